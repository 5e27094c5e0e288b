#!/usr/bin/python3
"""The original EigenfacesSVM training, in scikit-learn, for comparison with the Go
service's POST /faces/train (service/faces).

The pipeline of the original study (scikit-learn's "faces recognition" example):
  train_test_split(X, y, test_size=0.25, random_state=42)      # unstratified
  PCA(n_components=150, svd_solver="randomized", whiten=True)  # fitted on the training part
  GridSearchCV(SVC(kernel="rbf", class_weight="balanced"),
               {"C": [1e3, 5e3, 1e4, 5e4, 1e5],
                "gamma": [1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 1e-1]}, cv=5)
on the ORL face set read from its directory (sN/M.pgm) in the same order as the Go
loader: subjects by number, images by number, grey levels 0-255. The Go pipeline
reproduces the split and the folds index for index, so both see the same samples.

Usage (Debian: apt-get install -y python3-sklearn; not run in CI):
  /usr/bin/python3 scripts/faces_sklearn.py [ORL_DIR] [--repeat N] [--jobs J]
ORL_DIR defaults to $SERVEBENCH_DATA/faces/orl. Prints the train time (PCA + grid
search + refit, as the Go Report's pca + grid_search + fit stages; best of --repeat
runs), the best C and gamma and the test accuracy.
"""

import argparse
import os
import re
import sys
import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import classification_report
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.svm import SVC


def read_pgm(path):
    """Reads a binary (P5) 8-bit PGM as a float vector."""
    with open(path, "rb") as f:
        data = f.read()
    tokens = []
    pos = 0
    while len(tokens) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        start = pos
        while not data[pos:pos + 1].isspace():
            pos += 1
        tokens.append(data[start:pos])
    if tokens[0] != b"P5" or int(tokens[3]) > 255:
        raise ValueError(f"{path}: only 8-bit P5 PGM is read here")
    w, h = int(tokens[1]), int(tokens[2])
    pixels = np.frombuffer(data, dtype=np.uint8, count=w * h, offset=pos + 1)
    return pixels.astype(np.float64), (w, h)


def load_orl(root):
    subjects = sorted((d for d in os.listdir(root) if re.fullmatch(r"s\d+", d)), key=lambda d: int(d[1:]))
    X, y, names = [], [], []
    for label, subject in enumerate(subjects):
        names.append(subject)
        images = sorted((f for f in os.listdir(os.path.join(root, subject)) if re.fullmatch(r"\d+\.pgm", f)),
                        key=lambda f: int(f[:-4]))
        for image in images:
            pixels, _ = read_pgm(os.path.join(root, subject, image))
            X.append(pixels)
            y.append(label)
    return np.array(X), np.array(y), names


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_dir = os.path.join(os.environ.get("SERVEBENCH_DATA", "../shared/data"), "faces", "orl")
    parser.add_argument("orl_dir", nargs="?", default=default_dir)
    parser.add_argument("--repeat", type=int, default=3, help="train this many times, report the fastest")
    parser.add_argument("--jobs", type=int, default=None, help="GridSearchCV n_jobs (the original: None = 1)")
    args = parser.parse_args()

    X, y, names = load_orl(args.orl_dir)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=42)
    print(f"samples {len(X)} train {len(X_train)} test {len(X_test)} features {X.shape[1]} classes {len(names)}")

    param_grid = {"C": [1e3, 5e3, 1e4, 5e4, 1e5], "gamma": [1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 1e-1]}
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        pca = PCA(n_components=150, svd_solver="randomized", whiten=True).fit(X_train)
        X_train_pca = pca.transform(X_train)
        t1 = time.perf_counter()
        clf = GridSearchCV(SVC(kernel="rbf", class_weight="balanced"), param_grid, cv=5, n_jobs=args.jobs)
        clf.fit(X_train_pca, y_train)
        t2 = time.perf_counter()
        times.append((t2 - t0, t1 - t0, t2 - t1))
        accuracy = float(np.mean(clf.predict(pca.transform(X_test)) == y_test))
        print(f"run: train {t2 - t0:.3f} s (pca {t1 - t0:.3f} s, grid search + refit {t2 - t1:.3f} s) "
              f"best {clf.best_params_} cv {clf.best_score_:.4f} test accuracy {accuracy:.4f}")
    best = min(times)
    print(f"sklearn train best of {args.repeat}: {best[0]:.3f} s (pca {best[1]:.3f} s, grid search + refit {best[2]:.3f} s)")
    y_pred = clf.predict(pca.transform(X_test))
    print(classification_report(y_test, y_pred, target_names=names, zero_division=0), file=sys.stderr)


if __name__ == "__main__":
    main()
