"""User models: the registry (ONNX files and HTTP endpoints) and the predictors that run them."""
