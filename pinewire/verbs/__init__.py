"""The CLI's verbs, one module per group; each verb is a thin call into the module that owns
the behaviour. `pinewire/cli.py` assembles them."""
