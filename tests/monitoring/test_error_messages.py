"""Errors users meet outside the spec: a model that cannot be scored, replicas that do not start."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlops.errors import ScoreError
from mlops.models.bundle import Bundle
from mlops.monitoring.scoring import score
from mlops.serving.deploy import deploy_failure


def _bundle():
    X = pd.DataFrame({"a": np.linspace(0, 1, 30)})
    y = np.array(["no", "yes"] * 15)
    model = LogisticRegression().fit(X, y)
    return Bundle(model, {"task": "classification", "classes": ["no", "yes"], "input_schema": [{"name": "a"}]})


def test_a_metric_that_needs_two_classes_says_so():
    rows = pd.DataFrame({"a": [0.1, 0.2, 0.3], "y": ["yes"] * 3})
    with pytest.raises(ScoreError, match="roc_auc.*two classes"):
        score(_bundle(), rows, "y", "roc_auc")


def test_missing_columns_are_named():
    with pytest.raises(ScoreError, match=r"\['a'\] are missing"):
        score(_bundle(), pd.DataFrame({"y": ["no"]}), "y", "accuracy")


def test_a_model_that_refuses_the_rows_is_a_score_error_not_a_traceback():
    rows = pd.DataFrame({"a": ["not a number", "x"], "y": ["no", "yes"]})
    with pytest.raises(ScoreError, match="cannot score accuracy on 2 labelled rows: ValueError"):
        score(_bundle(), rows, "y", "accuracy")


def test_serve_start_up_failure_is_summarised():
    # The shape of Ray Serve 2.60's DEPLOY_FAILED message: a replica's traceback inside the status text.
    message = ("Deploying application iris failed: The deployments ['Endpoint'] are UNHEALTHY.\n"
               "Traceback (most recent call last):\n  File \"/x/replica.py\", line 9, in __init__\n"
               "    self.load()\nray.exceptions.RayTaskError(RegistryError): ray::ServeReplica\n"
               "mlops.errors.RegistryError: model artifact at /s/model fails its integrity check\n")
    text = deploy_failure("iris", message)
    assert text.splitlines()[0] == ("the endpoint 'iris' did not start: its replicas failed with "
                                    "mlops.errors.RegistryError: model artifact at /s/model fails its integrity check")
    assert "Traceback" not in text and "mlops status iris" in text


def test_drift_checks_print_no_transformers_advice_without_torch():
    """alibi-detect imports transformers, which advises installing PyTorch when it sees none (USE_TF=1
    makes this machine look like the `monitoring` profile without torch): nothing of that reaches users."""
    import os
    import subprocess
    import sys

    # Without the variable mlops sets (an earlier test of this process may have set it here).
    env = {**{k: v for k, v in os.environ.items() if k != "TRANSFORMERS_NO_ADVISORY_WARNINGS"}, "USE_TF": "1"}
    probe = subprocess.run([sys.executable, "-c", "import transformers"], capture_output=True, text=True,
                           env=env, timeout=120)
    assert "None of PyTorch" in probe.stderr  # the noise exists on such an install
    quiet = subprocess.run([sys.executable, "-c", "from mlops.detectors.drift import quiet_alibi_detect\n"
                            "quiet_alibi_detect()\nimport alibi_detect.cd"], capture_output=True, text=True,
                           env=env, timeout=120)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert "None of PyTorch" not in quiet.stderr
