"""Model families: how each kind of model is prompted and how its output is read."""
