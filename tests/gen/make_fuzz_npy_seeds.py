#!/usr/bin/env python3
"""Writes the .npy seeds of the npy fuzz target with numpy itself (development
time only): every dtype kind, ranks 0-3, Fortran and big-endian order, format
versions 2.0 and 3.0, an empty array, and hand-corrupted copies (truncated,
trailing byte, bad magic, complex dtype, bad fortran_order, negative shape).
The fixtures of tests/fixtures/npy are copied in as well.
Usage: python3 tests/gen/make_fuzz_npy_seeds.py  (writes tests/fuzz/corpus/npy/)"""
import io
import os
import shutil

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "fuzz", "corpus", "npy")
os.makedirs(out, exist_ok=True)
fixtures = os.path.join(here, "..", "fixtures", "npy")
for f in sorted(os.listdir(fixtures)):
    shutil.copy(os.path.join(fixtures, f), out)


def save(name, arr):
    np.save(os.path.join(out, name), arr)


r, c = np.meshgrid(np.arange(4), np.arange(3), indexing="ij")
save("u8_mask_2x2.npy", np.array([[0, 1], [2, 3]], dtype=np.uint8))
save("bool_3d.npy", np.zeros((1, 2, 3), dtype=bool))
save("f4_hw1.npy", (r * 3 + c).astype(np.float32)[:, :, None])
save("i4_1d.npy", np.arange(5, dtype=np.int32))
save("f8_scalar.npy", np.float64(2.5))
save("u2_fortran_3d.npy", np.asfortranarray(np.arange(24, dtype=">u2").reshape(2, 3, 4)))
save("empty_0x3.npy", np.zeros((0, 3), dtype=np.float32))
b = io.BytesIO()
np.lib.format.write_array(b, np.ones((2, 2), np.float32), version=(3, 0))
open(os.path.join(out, "v3_f4.npy"), "wb").write(b.getvalue())

good = open(os.path.join(out, "u8_mask_2x2.npy"), "rb").read()
bad = {
    "bad_truncated.npy": good[:-1],
    "bad_trailing.npy": good + b"\x00",
    "bad_magic.npy": b"\x93NUMPX" + good[6:],
    "bad_dtype.npy": good.replace(b"'descr': '|u1'", b"'descr': '<c8'"),
    "bad_fortran.npy": good.replace(b"'fortran_order': False", b"'fortran_order': 0    "),
    "bad_shape.npy": good.replace(b"'shape': (2, 2)", b"'shape': (2,-2)"),
}
for name, data in bad.items():
    assert data != good
    open(os.path.join(out, name), "wb").write(data)
