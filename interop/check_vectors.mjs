#!/usr/bin/env node
// Check refnn's golden vectors with an independent, dependency-free JavaScript matrix
// implementation: no Python involved. Usage: node interop/check_vectors.mjs DIR
//
// For every <op>.json in DIR whose op this file implements, every case's output and VJPs
// are computed here and compared with the expected values within the per-entry absolute
// tolerances stored beside them (docs/vectors.md). Ops not implemented here are listed as
// skipped. Each number is read from both its decimal and its hex-float form, which must
// agree. Exit status: 0 when every checked entry is within tolerance, 1 otherwise, 2 on
// bad usage or an unreadable file.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

// ------------------------------------------------------------------ number parsing
function parseHexFloat(s) {
  const m = /^(-?)0x([0-9a-f]+)(?:\.([0-9a-f]*))?p([+-]?\d+)$/i.exec(s);
  if (!m) throw new Error(`not a hex float: ${s}`);
  const frac = m[3] || "";
  const mant = BigInt("0x" + m[2] + frac);
  const exp = Number(m[4]) - 4 * frac.length;
  // mant has at most 53 significant bits and exp ≥ −1074 for any double: exact.
  const v = Number(mant) * 2 ** exp;
  return m[1] === "-" ? -v : v;
}

function readMatrix(obj, what) {
  const { rows, cols } = obj;
  const data = obj.decimal.map((d, k) => {
    const a = Number(d);
    const b = parseHexFloat(obj.hex[k]);
    if (!Object.is(a, b)) throw new Error(`${what}: decimal ${d} and hex ${obj.hex[k]} differ`);
    return a;
  });
  if (data.length !== rows * cols) throw new Error(`${what}: ${data.length} entries for ${rows}×${cols}`);
  return { rows, cols, data };
}

// ------------------------------------------------------------------ a tiny matrix library
const mat = (rows, cols, data) => ({ rows, cols, data });
const map = (A, f) => mat(A.rows, A.cols, A.data.map(f));
const zip = (A, B, f) => {
  if (A.rows !== B.rows || A.cols !== B.cols) throw new Error("shape mismatch");
  return mat(A.rows, A.cols, A.data.map((a, k) => f(a, B.data[k])));
};
const at = (A, i, j) => A.data[i * A.cols + j];

function transpose(A) {
  const out = new Array(A.rows * A.cols);
  for (let i = 0; i < A.rows; i++) for (let j = 0; j < A.cols; j++) out[j * A.rows + i] = at(A, i, j);
  return mat(A.cols, A.rows, out);
}

function matmul(A, B) {
  if (A.cols !== B.rows) throw new Error("matmul shape mismatch");
  const out = [];
  for (let i = 0; i < A.rows; i++) {
    for (let j = 0; j < B.cols; j++) {
      let s = 0; // plain recursive summation: within γₖ·Σ|terms|
      for (let k = 0; k < A.cols; k++) s += at(A, i, k) * at(B, k, j);
      out.push(s);
    }
  }
  return mat(A.rows, B.cols, out);
}

function sum(A) {
  let s = 0;
  for (const x of A.data) s += x;
  return mat(1, 1, [s]);
}

function sumRows(A) {
  const out = [];
  for (let j = 0; j < A.cols; j++) {
    let s = 0;
    for (let i = 0; i < A.rows; i++) s += at(A, i, j);
    out.push(s);
  }
  return mat(1, A.cols, out);
}

function sumCols(A) {
  const out = [];
  for (let i = 0; i < A.rows; i++) {
    let s = 0;
    for (let j = 0; j < A.cols; j++) s += at(A, i, j);
    out.push(s);
  }
  return mat(A.rows, 1, out);
}

function broadcast(A, m, n) {
  const out = [];
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) out.push(at(A, A.rows === 1 ? 0 : i, A.cols === 1 ? 0 : j));
  return mat(m, n, out);
}

function sigmoid(x) {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

const hadamard = (A, B) => zip(A, B, (a, b) => a * b);
const add = (A, B) => zip(A, B, (a, b) => a + b);
const sub = (A, B) => zip(A, B, (a, b) => a - b);
const neg = (A) => map(A, (a) => -a);

// Each op: forward(inputs, params) and vjp(g, y, inputs, params) → one matrix per input.
const OPS = {
  add: { forward: ([A, B]) => add(A, B), vjp: (g) => [g, g] },
  sub: { forward: ([A, B]) => sub(A, B), vjp: (g) => [g, neg(g)] },
  neg: { forward: ([A]) => neg(A), vjp: (g) => [neg(g)] },
  hadamard: {
    forward: ([A, B]) => hadamard(A, B),
    vjp: (g, y, [A, B]) => [hadamard(g, B), hadamard(g, A)],
  },
  scale: { forward: ([A], [c]) => map(A, (a) => c * a), vjp: (g, y, xs, [c]) => [map(g, (v) => c * v)] },
  matmul: {
    forward: ([A, B]) => matmul(A, B),
    vjp: (g, y, [A, B]) => [matmul(g, transpose(B)), matmul(transpose(A), g)],
  },
  transpose: { forward: ([A]) => transpose(A), vjp: (g) => [transpose(g)] },
  sum: { forward: ([A]) => sum(A), vjp: (g, y, [A]) => [broadcast(g, A.rows, A.cols)] },
  sum_rows: { forward: ([A]) => sumRows(A), vjp: (g, y, [A]) => [broadcast(g, A.rows, A.cols)] },
  sum_cols: { forward: ([A]) => sumCols(A), vjp: (g, y, [A]) => [broadcast(g, A.rows, A.cols)] },
  exp: { forward: ([A]) => map(A, Math.exp), vjp: (g, y) => [hadamard(g, y)] },
  tanh: {
    forward: ([A]) => map(A, Math.tanh),
    vjp: (g, y) => [sub(g, hadamard(g, hadamard(y, y)))],
  },
  sigmoid: {
    forward: ([A]) => map(A, sigmoid),
    vjp: (g, y) => [hadamard(g, sub(y, hadamard(y, y)))],
  },
  relu: {
    forward: ([A]) => map(A, (a) => (a > 0 ? a : 0)),
    vjp: (g, y, [A]) => [zip(g, A, (v, a) => (a > 0 ? v : 0))],
  },
  square: { forward: ([A]) => hadamard(A, A), vjp: (g, y, [A]) => [hadamard(g, map(A, (a) => 2 * a))] },
};

// ------------------------------------------------------------------ checking
function compare(got, expected, tol, label, failures) {
  if (got.rows !== expected.rows || got.cols !== expected.cols) {
    failures.push(`${label}: shape ${got.rows}×${got.cols}, expected ${expected.rows}×${expected.cols}`);
    return 1;
  }
  let bad = 0;
  got.data.forEach((v, k) => {
    const err = Math.abs(v - expected.data[k]);
    if (!(err <= tol.data[k])) {
      bad++;
      const i = Math.floor(k / got.cols) + 1;
      const j = (k % got.cols) + 1;
      failures.push(
        `${label} entry [${i}, ${j}]: got ${v}, expected ${expected.data[k]}, ` +
          `|error| ${err} > tolerance ${tol.data[k]}`,
      );
    }
  });
  return bad;
}

function checkFile(path) {
  const doc = JSON.parse(readFileSync(path, "utf8"));
  if (doc.format !== "refnn-golden-vectors" || doc.version !== 1) {
    throw new Error(`${path}: unsupported format ${doc.format} version ${doc.version}`);
  }
  const impl = OPS[doc.op];
  if (!impl) return { op: doc.op, skipped: true };
  const failures = [];
  let entries = 0;
  doc.cases.forEach((c, n) => {
    const label = `${doc.op} case ${n + 1}`;
    const xs = c.inputs.map((m, k) => readMatrix(m, `${label} input ${k + 1}`));
    const params = c.params.map((p) => parseHexFloat(p.hex));
    const g = readMatrix(c.cotangent, `${label} cotangent`);
    const y = impl.forward(xs, params);
    entries += y.data.length;
    compare(y, readMatrix(c.output, label), readMatrix(c.output_tolerance, label), `${label} output`, failures);
    const cts = impl.vjp(g, y, xs, params);
    cts.forEach((ct, k) => {
      entries += ct.data.length;
      compare(
        ct,
        readMatrix(c.vjp[k], label),
        readMatrix(c.vjp_tolerance[k], label),
        `${label} vjp of input ${k + 1}`,
        failures,
      );
    });
  });
  return { op: doc.op, skipped: false, cases: doc.cases.length, entries, failures };
}

function main(argv) {
  if (argv.length !== 1) {
    console.error("usage: node check_vectors.mjs DIR");
    return 2;
  }
  const dir = argv[0];
  let files;
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".json") && f !== "index.json").sort();
  } catch (e) {
    console.error(`cannot read ${dir}: ${e.message}`);
    return 2;
  }
  if (files.length === 0) {
    console.error(`no vector files in ${dir}`);
    return 2;
  }
  let passed = 0;
  let failed = 0;
  const skipped = [];
  for (const f of files) {
    let r;
    try {
      r = checkFile(join(dir, f));
    } catch (e) {
      console.error(`${f}: ${e.message}`);
      return 2;
    }
    if (r.skipped) {
      skipped.push(r.op);
      continue;
    }
    if (r.failures.length === 0) {
      passed++;
      console.log(`ok    ${r.op} (${r.cases} cases, ${r.entries} entries)`);
    } else {
      failed++;
      console.log(`FAIL  ${r.op}`);
      for (const msg of r.failures) console.log(`      ${msg}`);
    }
  }
  if (skipped.length) console.log(`skipped (not implemented in this checker): ${skipped.join(", ")}`);
  console.log(`ops: ${passed} passed, ${failed} failed, ${skipped.length} skipped`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
