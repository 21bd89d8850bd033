"""DP-100 seed pipeline, step 1: clean the raw diabetes data and write it to the output folder."""

import argparse
import os

from airflow_mlw.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--raw-ds", type=str, dest="raw_dataset_id", default=None)
parser.add_argument("--out_folder", "--folder", type=str, dest="folder")
args = parser.parse_args()

run = Run.get_context()
raw = run.input_datasets["raw_data"].to_pandas_dataframe()
rows_before = len(raw)
clean = raw.dropna().drop_duplicates()
clean = clean[(clean["BMI"] > 0) & (clean["PlasmaGlucose"] > 0)]
for column in [
    "Pregnancies",
    "PlasmaGlucose",
    "DiastolicBloodPressure",
    "TricepsThickness",
    "SerumInsulin",
    "BMI",
    "DiabetesPedigree",
]:
    low, high = clean[column].min(), clean[column].max()
    clean[column] = (clean[column] - low) / ((high - low) or 1)
run.log("raw_rows", rows_before)
run.log("processed_rows", len(clean))
os.makedirs(args.folder, exist_ok=True)
clean.to_csv(os.path.join(args.folder, "data.csv"), index=False)
