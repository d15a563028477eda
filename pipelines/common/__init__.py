"""Building blocks shared by the classification and summarization pipelines:
table loading with bad-row counting, the tensorflow-text WordPiece tokenizer,
run directories, training callbacks and schedules, and plots."""
