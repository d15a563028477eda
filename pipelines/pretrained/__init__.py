"""Pretrained BERT-family checkpoints: the reader, their tokenizer and the encoder built
from keras_attention layers, shared by the classification and summarization pipelines.

    checkpoint = read_checkpoint("minilm")      # or any Hugging Face BERT directory
    tokenizer = CheckpointTokenizer.from_checkpoint(checkpoint, max_length=128)
    encoder = build_pretrained_encoder(checkpoint)   # token ids → hidden states + mask
"""
