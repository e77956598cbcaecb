"""What the web tests share: the trained model's predictor and an in-process client of the app."""

import pytest
from fastapi.testclient import TestClient

from digitlab.inference.predictor import Predictor
from digitlab.web.app import create_app

LOCAL = "http://localhost"  # a Host the server answers by default


@pytest.fixture(scope="module")
def predictor(trained_model):
    return Predictor.load(trained_model)


@pytest.fixture
def client(predictor, tmp_path):
    return TestClient(create_app(predictor, save_dir=tmp_path / "saved"), base_url=LOCAL)
