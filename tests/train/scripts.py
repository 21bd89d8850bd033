"""Trial scripts the HyperDrive tests sweep (written into a test's source folder)."""

from __future__ import annotations

from pathlib import Path

#: A real scikit-learn fit: logistic regression on a small synthetic set; logs Accuracy and AUC.
SKLEARN_TRAIN = """\
import argparse, os, joblib
from airflow_mlw.core import Run
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--reg", type=float, default=1.0)
parser.add_argument("--max_iter", type=int, default=50)
parser.add_argument("--data", type=str, default=None)
args = parser.parse_args()
run = Run.get_context()
X, y = make_classification(n_samples=300, n_features=8, n_informative=4, random_state=0)
if args.data:
    import csv
    rows = list(csv.reader(open(os.path.join(args.data, "data.csv"))))[1:]
    X = [[float(v) for v in r[:-1]] for r in rows]
    y = [int(r[-1]) for r in rows]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
model = LogisticRegression(C=1.0 / args.reg, max_iter=args.max_iter).fit(X_train, y_train)
run.log("reg", args.reg)
run.log("Accuracy", float(model.score(X_test, y_test)))
run.log("AUC", float(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])))
os.makedirs("outputs", exist_ok=True)
joblib.dump(model, "outputs/model.pkl")
"""

#: Logs ``score`` ``--steps`` times, one value every ``--pause`` seconds: ``--quality`` plus a
#: small climb. Writes its pid to ``<quality>-<pid>`` in ``--pid_dir`` first, then waits until
#: ``--barrier`` trials have.
EPOCHS = """\
import argparse, os, time
from airflow_mlw.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--quality", type=float, default=1.0)
parser.add_argument("--steps", type=int, default=10)
parser.add_argument("--pause", type=float, default=0.2)
parser.add_argument("--pid_dir", type=str, default="")
parser.add_argument("--barrier", type=int, default=0)
args = parser.parse_args()
if args.pid_dir:
    open(os.path.join(args.pid_dir, f"{args.quality}-{os.getpid()}"), "w").close()
    deadline = time.time() + 30
    while len(os.listdir(args.pid_dir)) < args.barrier and time.time() < deadline:
        time.sleep(0.02)  # the trials start logging together
run = Run.get_context()
for step in range(args.steps):
    time.sleep(args.pause)
    run.log("score", args.quality + 0.01 * step)
"""

#: Logs only ``loss`` (a sweep asking for another metric never gets it).
LOSS_ONLY = """\
import argparse
from airflow_mlw.core import Run
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, default=0.0)
args, _ = parser.parse_known_args()
Run.get_context().log("loss", args.x)
"""


def write_source(folder: Path, name: str, text: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return str(folder)
