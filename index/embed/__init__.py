"""Turning text into vectors: the bundled MiniLM (torch for passages, ONNX for questions), locally or on Ray."""
