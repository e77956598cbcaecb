"""The draw-a-digit web app: a FastAPI server over `inference.predictor`, and a plain HTML/JS page."""
