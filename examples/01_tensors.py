"""The article's first section, "tensors", with refnn.

A scalar is one number, a vector a list of them, a matrix a grid. refnn represents vectors
as 1×n (row) or n×1 (column) matrices and counts rows and columns from 1, as the article
does: A[1, 1] is the top-left entry.

Run: .venv/bin/python examples/01_tensors.py
"""

from __future__ import annotations

from refnn import Matrix


def show(title: str, value: object) -> None:
    print(f"{title}:")
    print(value)
    print()


def main() -> None:
    # A scalar: a single number.
    x = 3.5
    show("a scalar x", x)

    # A vector: a row of numbers (1×3) or a column (3×1).
    v = Matrix([[1, 2, 3]])
    w = Matrix([[1], [2], [3]])
    show(f"a row vector v, shape {v.shape}", v)
    show(f"a column vector w, shape {w.shape}", w)

    # A matrix: rows of equal length.
    A = Matrix([[1, 2], [3, 4]])
    B = Matrix([[5, 6], [7, 8]])
    show(f"A, shape {A.shape}", A)
    show(f"B, shape {B.shape}", B)

    # 1-based indexing: A[1, 1] is the top-left entry (A₁,₁ in the article).
    print(f"A[1, 1] = {A[1, 1]}, A[1, 2] = {A[1, 2]}, A[2, 1] = {A[2, 1]}, A[2, 2] = {A[2, 2]}")
    print()

    # Element-wise operations need equal shapes.
    show("A + B", A + B)
    show("B - A", B - A)
    show("B ⊙ A  (B.hadamard(A), the element-wise product)", B.hadamard(A))

    # A scalar multiple, the transpose, the matrix product.
    show("2 · A", 2 * A)
    show("Aᵀ  (A.T)", A.T)
    show("A @ B  (the matrix product: row of A times column of B)", A @ B)
    show("v @ w  (1×3 @ 3×1 → 1×1: the dot product 1·1 + 2·2 + 3·3)", v @ w)
    show("w @ v  (3×1 @ 1×3 → 3×3: the outer product)", w @ v)

    # The same matrix, as LaTeX.
    print(f"A in LaTeX: {A.to_latex()}")


if __name__ == "__main__":
    main()
