"""The draw-a-digit web app: a FastAPI server over `digitlab.predict`, and a plain HTML/JS page."""
