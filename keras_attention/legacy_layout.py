"""Loading MultiHeadAttention from files in its former weight layout.

Before the projections became EinsumDense sublayers, the layer held its eight
weights itself; `.keras` files of that time (tests/layers/data/legacy_layout.keras)
still load.
"""


class LegacyLayoutMixin:
    """The `load_own_variables` that `MultiHeadAttention` inherits: files in the
    current layout hold no weights on the layer itself (its sublayers load
    their own), files in the former layout hold all of them there."""

    def load_own_variables(self, store):
        if len(store.keys()) == 0:
            return super().load_own_variables(store)
        # Files written before the projections became sublayers hold their
        # weights on this layer itself: query, key, value and output kernels,
        # each followed by its bias.
        projections = [self._query_dense, self._key_dense, self._value_dense, self._output_dense]
        variables = [variable for p in projections for variable in p.variables]
        if len(store.keys()) != len(variables):
            raise ValueError(
                f"Layer '{self.name}' expected {len(variables)} variables in the "
                f"former layout, but received {len(store.keys())} during loading."
            )
        for index, variable in enumerate(variables):
            variable.assign(store[str(index)])
        # Keras loads the sublayers next, from paths that file does not have.
        for projection in projections:
            projection.load_own_variables = _skip_one_empty_load(projection)


def _skip_one_empty_load(projection):
    """A one-time `load_own_variables` for a projection its parent has loaded."""

    def load_own_variables(store):
        del projection.load_own_variables  # back to EinsumDense's own
        if len(store.keys()):
            projection.load_own_variables(store)

    return load_own_variables
