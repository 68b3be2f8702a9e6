#!/usr/bin/env python3
"""Writes small .npy files with numpy itself (development time only) so the
C reader is tested against what numpy really produces: Fortran order (as the
seed study's Duke files), big-endian, format 2.0, integer masks, 1xHxW.
Values follow formulas that tests/unit/test_data_npy.c recomputes.
Usage: python3 tests/gen/make_npy_fixtures.py  (writes tests/fixtures/npy/)"""
import os
import numpy as np

out = os.path.join(os.path.dirname(__file__), "..", "fixtures", "npy")
os.makedirs(out, exist_ok=True)
r, c = np.meshgrid(np.arange(5), np.arange(7), indexing="ij")
img = (r * 10 + c + 0.25).astype(np.float32)          # value(row, col) = 10 row + col + 0.25
mask = ((r + c) % 9).astype(np.int64)                  # class(row, col) = (row + col) % 9

np.save(os.path.join(out, "fortran_f4.npy"), np.asfortranarray(img))
np.save(os.path.join(out, "fortran_i8_mask.npy"), np.asfortranarray(mask))
np.save(os.path.join(out, "c_u1_mask.npy"), mask.astype(np.uint8))
np.save(os.path.join(out, "bigendian_f8.npy"), img.astype(">f8"))
np.save(os.path.join(out, "chw_f4.npy"), img[None, :, :])
with open(os.path.join(out, "v2_i2.npy"), "wb") as f:
    np.lib.format.write_array(f, mask.astype(np.int16), version=(2, 0))
np.save(os.path.join(out, "complex.npy"), img.astype(np.complex64))
assert np.load(os.path.join(out, "fortran_f4.npy")).flags.f_contiguous
