"""DP-100 seed training script: logistic regression on the diabetes data, metrics logged to the run."""

import argparse
import os
import pickle

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from airflow_mlw.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--reg_rate", type=float, default=0.01)
args = parser.parse_args()

run = Run.get_context()
diabetes = pd.read_csv("diabetes.csv")
X = diabetes[
    [
        "Pregnancies",
        "PlasmaGlucose",
        "DiastolicBloodPressure",
        "TricepsThickness",
        "SerumInsulin",
        "BMI",
        "DiabetesPedigree",
        "Age",
    ]
].values
y = diabetes["Diabetic"].values
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.30, random_state=0)
model = LogisticRegression(C=1 / args.reg_rate, solver="liblinear").fit(X_train, y_train)
y_hat = model.predict(X_test)
run.log("Regularization Rate", args.reg_rate)
run.log("Accuracy", float(np.average(y_hat == y_test)))
run.log("AUC", float(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])))
os.makedirs("outputs", exist_ok=True)
with open("outputs/diabetes_model.pkl", "wb") as handle:
    pickle.dump(model, handle)
run.complete()
