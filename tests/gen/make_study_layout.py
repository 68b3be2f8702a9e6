#!/usr/bin/env python3
"""Writes a miniature of the study's published data layout with numpy itself
(development time only): DukeData/{train,val,test}/{images,masks}/Subject_SS_KK.npy,
float32 images and float32 masks holding whole-number labels 0..9, widths that
differ between subjects, exactly as data/DukeData of
github.com/ParthS007/privacy-preserving-machine-learning ships them (no real
data here: values follow formulas that tests/unit/test_data_study.c recomputes).
Usage: python3 tests/gen/make_study_layout.py  (writes tests/fixtures/study_layout/)"""
import os
import numpy as np

root = os.path.join(os.path.dirname(__file__), "..", "fixtures", "study_layout", "DukeData")
H = 6
# split -> [(subject, slice)]: subjects 1-2 train, 3 val, 4 test
layout = {"train": [(1, 0), (1, 1), (2, 0)], "val": [(3, 0)], "test": [(4, 0), (4, 1)]}
for split, items in layout.items():
    for sub in ("images", "masks"):
        os.makedirs(os.path.join(root, split, sub), exist_ok=True)
    for s, k in items:
        W = 6 + s                                   # subject s is 6 x (6 + s)
        r, c = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
        img = (10 * s + k + 0.5 * r + 0.25 * c).astype(np.float32)
        mask = ((r + c + s + k) % 10).astype(np.float32)   # labels 0..9 as float32
        name = f"Subject_{s:02d}_{k:02d}.npy"
        np.save(os.path.join(root, split, "images", name), img)
        np.save(os.path.join(root, split, "masks", name), mask)
