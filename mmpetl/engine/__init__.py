"""mmpetl's hooks (registered in ``mmpetl.registry.HOOKS``)."""
