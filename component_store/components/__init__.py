"""The vetted components of the built-in store, one module each.

Every module imports only `typing`, `kfp.dsl` and the decorator at the top; everything a
component needs at run time is imported inside its body, because only the function's
source travels to the executor.
"""
