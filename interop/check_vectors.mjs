#!/usr/bin/env node
// Check refnn's golden vectors (format version 2) with an independent, dependency-free
// JavaScript implementation of every op and of the training traces: no Python involved.
//
//   node interop/check_vectors.mjs DIR [--subnormals strict|flush] [--signed-zero strict|ignore]
//
// DIR is what `refnn vectors export DIR` wrote: DIR/<op>.json (one per op), DIR/index.json and
// DIR/traces/<name>.json. For every case of every op the output and the VJPs (computed here
// from this file's own forward output) are compared with the expected values within the
// per-entry absolute tolerances beside them; each trace is trained here step by step and
// its loss, gradients and updated parameters compared the same way. The policies are those
// of docs/vectors.md (and of `refnn conform`):
//   --subnormals strict (default): subnormals are numbers like any other;
//   --subnormals flush: every value below 2^-1022 in magnitude is a zero of its sign, and the
//       cases marked "subnormal": true are skipped (counted as skipped by policy);
//   --signed-zero strict (default): a zero in the output of an op whose file says
//       "zero_sign": "ieee" must carry the expected zero's sign (never judged in VJPs, in
//       "unspecified" files or in traces);
//   --signed-zero ignore: -0 and +0 compare equal.
// Closing lines: "ops: N passed, N failed, N skipped" and "traces: N passed, N failed".
// Exit status: 0 when everything checked passes, 1 on a failure, 2 on bad usage or an
// unreadable or unknown file.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const FORMAT = "refnn-golden-vectors";
const TRACE_FORMAT = "refnn-training-trace";
const VERSION = 2;
const MIN_NORMAL = 2 ** -1022;

const policy = { subnormals: "strict", signedZero: "strict" };

// ------------------------------------------------------------------ number parsing
function parseHexFloat(s) {
  const m = /^(-?)0x([0-9a-f]+)(?:\.([0-9a-f]*))?p([+-]?\d+)$/i.exec(s);
  if (!m) {
    if (s === "inf" || s === "-inf" || s === "nan") throw new Error(`not a finite hex float: ${s}`);
    throw new Error(`not a hex float: ${s}`);
  }
  const frac = m[3] || "";
  let mant = BigInt("0x" + m[2] + frac);
  let exp = Number(m[4]) - 4 * frac.length;
  // Scale in exact steps: mant has at most 53 significant bits, and the result is a double
  // (subnormals included), so only the final step can round, and it does not.
  let v;
  if (mant === 0n) v = 0;
  else {
    while (mant % 2n === 0n) {
      mant /= 2n;
      exp += 1;
    }
    v = Number(mant);
    while (exp > 0) {
      const s2 = Math.min(exp, 1000);
      v *= 2 ** s2;
      exp -= s2;
    }
    while (exp < 0) {
      const s2 = Math.min(-exp, 1000);
      v /= 2 ** s2;
      exp += s2;
    }
  }
  return m[1] === "-" ? -v : v;
}

const flush = (x) => (policy.subnormals === "flush" && x !== 0 && Math.abs(x) < MIN_NORMAL ? (x < 0 ? -0 : 0) : x);

function readNumber(obj, what) {
  const a = Number(obj.decimal);
  const b = parseHexFloat(obj.hex);
  if (!Object.is(a, b)) throw new Error(`${what}: decimal ${obj.decimal} and hex ${obj.hex} differ`);
  return a;
}

function readMatrix(obj, what, raw = false) {
  const { rows, cols } = obj;
  const data = obj.decimal.map((d, k) => {
    const v = readNumber({ decimal: d, hex: obj.hex[k] }, what);
    return raw ? v : flush(v);
  });
  if (data.length !== rows * cols) throw new Error(`${what}: ${data.length} entries for ${rows}×${cols}`);
  return { rows, cols, data };
}

// ------------------------------------------------------------------ a tiny matrix library
// Every function below follows the definition in the op's file ("definition"): the same
// formula and, where a zero's sign depends on it, the same order of operations.
const mat = (rows, cols, data) => ({ rows, cols, data });
const map = (A, f) => mat(A.rows, A.cols, A.data.map(f));
const zip = (A, B, f) => {
  if (A.rows !== B.rows || A.cols !== B.cols) throw new Error(`shape mismatch ${A.rows}×${A.cols} and ${B.rows}×${B.cols}`);
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
      let s = at(A, i, 0) * at(B, 0, j); // from the first product (definition of matmul)
      for (let k = 1; k < A.cols; k++) s += at(A, i, k) * at(B, k, j);
      out.push(s);
    }
  }
  return mat(A.rows, B.cols, out);
}

function sumList(xs) {
  let s = 0; // sums start from +0 (definition of sum)
  for (const x of xs) s += x;
  return s;
}

const sum = (A) => mat(1, 1, [sumList(A.data)]);

function sumRows(A) {
  if (A.rows === 1) return A; // a 1×n input is returned unchanged
  const out = [];
  for (let j = 0; j < A.cols; j++) {
    const col = [];
    for (let i = 0; i < A.rows; i++) col.push(at(A, i, j));
    out.push(sumList(col));
  }
  return mat(1, A.cols, out);
}

function sumCols(A) {
  if (A.cols === 1) return A; // an m×1 input is returned unchanged
  const out = [];
  for (let i = 0; i < A.rows; i++) out.push(sumList(A.data.slice(i * A.cols, (i + 1) * A.cols)));
  return mat(A.rows, 1, out);
}

function broadcast(A, m, n) {
  const ok = (A.rows === 1 || A.rows === m) && (A.cols === 1 || A.cols === n);
  if (!ok) throw new Error(`broadcast of ${A.rows}×${A.cols} to ${m}×${n}`);
  const out = [];
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) out.push(at(A, A.rows === 1 ? 0 : i, A.cols === 1 ? 0 : j));
  return mat(m, n, out);
}

function concatCols(A, B) {
  if (A.rows !== B.rows) throw new Error("concat_cols needs equal row counts");
  const out = [];
  for (let i = 0; i < A.rows; i++) {
    for (let j = 0; j < A.cols; j++) out.push(at(A, i, j));
    for (let j = 0; j < B.cols; j++) out.push(at(B, i, j));
  }
  return mat(A.rows, A.cols + B.cols, out);
}

function sliceCols(A, j1, j2) {
  if (!(Number.isInteger(j1) && Number.isInteger(j2) && 1 <= j1 && j1 <= j2 && j2 <= A.cols))
    throw new Error(`slice_cols ${j1}..${j2} of ${A.cols} columns`);
  const out = [];
  for (let i = 0; i < A.rows; i++) for (let j = j1 - 1; j < j2; j++) out.push(at(A, i, j));
  return mat(A.rows, j2 - j1 + 1, out);
}

function sigmoid1(x) {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

const pymax = (a, b) => (b > a ? b : a); // Python's max: the first argument on a tie
const pymin = (a, b) => (b < a ? b : a);
const softplus1 = (x) => pymax(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const relu1 = (x) => (x > 0 ? x : 0 * x);
const step1 = (x) => (x > 0 ? 1 : 0);

const add = (A, B) => zip(A, B, (a, b) => a + b);
const sub = (A, B) => zip(A, B, (a, b) => a - b);
const hadamard = (A, B) => zip(A, B, (a, b) => a * b);
const div = (A, B) =>
  zip(A, B, (a, b) => {
    if (b === 0) throw new Error("division by a zero entry");
    return a / b;
  });
const neg = (A) => map(A, (a) => -a);
const scale = (c, A) => map(A, (a) => c * a);
const addScalar = (A, c) => map(A, (a) => a + c);
const square = (A) => map(A, (a) => a * a);
const exp = (A) => map(A, Math.exp);
const sin = (A) => map(A, Math.sin);
const cos = (A) => map(A, Math.cos);
const tanh = (A) => map(A, Math.tanh);
const sigmoid = (A) => map(A, sigmoid1);
const step = (A) => map(A, step1);
const relu = (A) => map(A, relu1);
const zerosLike = (g, m, k) => broadcast(scale(0, sum(g)), m, k); // 0·Σg: the zero's sign

function softmaxRows(A) {
  const out = [];
  for (let i = 0; i < A.rows; i++) {
    const r = A.data.slice(i * A.cols, (i + 1) * A.cols);
    const mx = r.reduce(pymax);
    const e = r.map((x) => Math.exp(x - mx));
    const s = sumList(e);
    for (const v of e) out.push(v / s);
  }
  return mat(A.rows, A.cols, out);
}

function logSoftmaxRows(A) {
  const out = [];
  for (let i = 0; i < A.rows; i++) {
    const r = A.data.slice(i * A.cols, (i + 1) * A.cols);
    const mx = r.reduce(pymax);
    const lse = Math.log(sumList(r.map((x) => Math.exp(x - mx))));
    for (const x of r) out.push(x - mx - lse);
  }
  return mat(A.rows, A.cols, out);
}

function powOp(A, p) {
  return map(A, (x) => {
    if (x < 0 && !Number.isInteger(p)) throw new Error("pow of a negative entry to a non-integer power");
    if (x === 0 && p < 0) throw new Error("pow of a zero entry to a negative power");
    return Math.pow(x, p);
  });
}

// Each op: forward(inputs, params) and vjp(g, y, inputs, params) → one matrix per input,
// as written in the op's "definition".vjp.
const OPS = {
  add: { forward: ([A, B]) => add(A, B), vjp: (g) => [g, g] },
  sub: { forward: ([A, B]) => sub(A, B), vjp: (g) => [g, neg(g)] },
  neg: { forward: ([A]) => neg(A), vjp: (g) => [neg(g)] },
  hadamard: { forward: ([A, B]) => hadamard(A, B), vjp: (g, y, [A, B]) => [hadamard(g, B), hadamard(g, A)] },
  scale: { forward: ([A], [c]) => scale(c, A), vjp: (g, y, xs, [c]) => [scale(c, g)] },
  add_scalar: { forward: ([A], [c]) => addScalar(A, c), vjp: (g) => [g] },
  div: {
    forward: ([A, B]) => div(A, B),
    vjp: (g, y, [A, B]) => {
      const gA = div(g, B);
      return [gA, neg(hadamard(gA, y))];
    },
  },
  matmul: { forward: ([A, B]) => matmul(A, B), vjp: (g, y, [A, B]) => [matmul(g, transpose(B)), matmul(transpose(A), g)] },
  transpose: { forward: ([A]) => transpose(A), vjp: (g) => [transpose(g)] },
  broadcast: {
    forward: ([A], [m, n]) => broadcast(A, m, n),
    vjp: (g, y, [A], [m, n]) => {
      if (A.rows === m && A.cols === n) return [g];
      if (A.rows === 1 && A.cols === 1) return [sum(g)];
      if (A.rows === 1) return [sumRows(g)];
      return [sumCols(g)];
    },
  },
  add_row: {
    forward: ([A, b]) => {
      if (b.rows !== 1 || b.cols !== A.cols) throw new Error("add_row needs a 1×n row");
      return add(A, broadcast(b, A.rows, A.cols));
    },
    vjp: (g) => [g, sumRows(g)],
  },
  concat_cols: {
    forward: ([A, B]) => concatCols(A, B),
    vjp: (g, y, [A]) => [sliceCols(g, 1, A.cols), sliceCols(g, A.cols + 1, y.cols)],
  },
  slice_cols: {
    forward: ([A], [j1, j2]) => sliceCols(A, j1, j2),
    vjp: (g, y, [A], [j1, j2]) => {
      let out = g;
      if (j1 > 1) out = concatCols(zerosLike(g, A.rows, j1 - 1), out);
      if (j2 < A.cols) out = concatCols(out, zerosLike(g, A.rows, A.cols - j2));
      return [out];
    },
  },
  sum: { forward: ([A]) => sum(A), vjp: (g, y, [A]) => [broadcast(g, A.rows, A.cols)] },
  sum_rows: { forward: ([A]) => sumRows(A), vjp: (g, y, [A]) => [broadcast(g, A.rows, A.cols)] },
  sum_cols: { forward: ([A]) => sumCols(A), vjp: (g, y, [A]) => [broadcast(g, A.rows, A.cols)] },
  mean: {
    forward: ([A]) => mat(1, 1, [sumList(A.data) / A.data.length]),
    vjp: (g, y, [A]) => [broadcast(scale(1 / A.data.length, g), A.rows, A.cols)],
  },
  exp: { forward: ([A]) => exp(A), vjp: (g, y) => [hadamard(g, y)] },
  log: {
    forward: ([A]) =>
      map(A, (x) => {
        if (!(x > 0)) throw new Error("log needs positive entries");
        return Math.log(x);
      }),
    vjp: (g, y, [A]) => [div(g, A)],
  },
  sqrt: {
    forward: ([A]) =>
      map(A, (x) => {
        if (x < 0) throw new Error("sqrt needs non-negative entries");
        return Math.sqrt(x);
      }),
    vjp: (g, y) => [div(g, scale(2, y))],
  },
  pow: {
    forward: ([A], [p]) => powOp(A, p),
    vjp: (g, y, [A], [p]) => {
      if (p === 0) return [scale(0, g)];
      if (p === 1) return [g];
      return [hadamard(g, scale(p, powOp(A, p - 1)))];
    },
  },
  square: { forward: ([A]) => square(A), vjp: (g, y, [A]) => [hadamard(g, scale(2, A))] },
  tanh: { forward: ([A]) => tanh(A), vjp: (g, y) => [sub(g, hadamard(g, square(y)))] },
  sigmoid: { forward: ([A]) => sigmoid(A), vjp: (g, y) => [hadamard(g, sub(y, square(y)))] },
  softplus: { forward: ([A]) => map(A, softplus1), vjp: (g, y, [A]) => [hadamard(g, sigmoid(A))] },
  sin: { forward: ([A]) => sin(A), vjp: (g, y, [A]) => [hadamard(g, cos(A))] },
  cos: { forward: ([A]) => cos(A), vjp: (g, y, [A]) => [neg(hadamard(g, sin(A)))] },
  step: { forward: ([A]) => step(A), vjp: (g) => [scale(0, g)] },
  relu: { forward: ([A]) => relu(A), vjp: (g, y, [A]) => [hadamard(g, step(A))] },
  leaky_relu: {
    forward: ([A], [a]) => sub(relu(A), scale(a, relu(neg(A)))),
    vjp: (g, y, [A], [a]) => [add(scale(a, g), scale(1 - a, hadamard(g, step(A))))],
  },
  clip: {
    forward: ([A], [lo, hi]) => {
      if (!(lo <= hi)) throw new Error("clip needs lo ≤ hi");
      return map(A, (x) => pymin(pymax(x, lo), hi));
    },
    vjp: (g, y, [A], [lo, hi]) => [hadamard(g, hadamard(step(addScalar(A, -lo)), step(neg(addScalar(A, -hi)))))],
  },
  softmax_rows: {
    forward: ([A]) => softmaxRows(A),
    vjp: (g, y) => {
      const gy = hadamard(g, y);
      return [sub(gy, hadamard(y, broadcast(sumCols(gy), y.rows, y.cols)))];
    },
  },
  log_softmax_rows: {
    forward: ([A]) => logSoftmaxRows(A),
    vjp: (g, y) => [sub(g, hadamard(exp(y), broadcast(sumCols(g), y.rows, y.cols)))],
  },
};

// ------------------------------------------------------------------ comparison
const signOf = (x) => (Object.is(x, -0) || x < 0 ? "-" : "+");

// The largest |error|/tolerance seen (reported for traces: how much of the tolerance is used).
let worstRatio = 0;

// The first mismatch between got and expected (a message), or null. `signs`: whether the
// sign of a zero is judged (the output of a "zero_sign": "ieee" file, under strict).
function mismatch(got, want, tol, signs = false) {
  const g = flush(got);
  if (tol > 0 && Number.isFinite(g)) worstRatio = Math.max(worstRatio, Math.abs(g - want) / tol);
  if (!Number.isFinite(g)) return `got ${g}, expected ${want}`;
  const err = Math.abs(g - want);
  if (!(err <= tol)) return `got ${g}, expected ${want}, |error| ${err} > tolerance ${tol}`;
  if (signs && policy.signedZero === "strict" && g === 0 && want === 0 && signOf(g) !== signOf(want))
    return `signed zero: got ${signOf(g)}0, expected ${signOf(want)}0`;
  return null;
}

function compare(got, expected, tol, label, failures, signs = false) {
  if (got.rows !== expected.rows || got.cols !== expected.cols) {
    failures.push(`${label}: shape ${got.rows}×${got.cols}, expected ${expected.rows}×${expected.cols}`);
    return;
  }
  got.data.forEach((v, k) => {
    const msg = mismatch(v, expected.data[k], tol.data[k], signs);
    if (msg !== null) {
      const i = Math.floor(k / got.cols) + 1;
      const j = (k % got.cols) + 1;
      failures.push(`${label} entry [${i}, ${j}]: ${msg}`);
    }
  });
}

function checkOpFile(path) {
  const doc = JSON.parse(readFileSync(path, "utf8"));
  if (doc.format !== FORMAT || doc.version !== VERSION) {
    throw new Error(`${path}: unsupported format ${doc.format} version ${doc.version} (this checker reads ${FORMAT} ${VERSION})`);
  }
  if (doc.zero_sign !== "ieee" && doc.zero_sign !== "unspecified") {
    throw new Error(`${path}: zero_sign is ${doc.zero_sign}, expected "ieee" or "unspecified"`);
  }
  const signs = doc.zero_sign === "ieee";
  const impl = OPS[doc.op];
  if (!impl) return { op: doc.op, skipped: true };
  const failures = [];
  let entries = 0;
  let policySkipped = 0;
  doc.cases.forEach((c, n) => {
    const label = `${doc.op} case ${n + 1}`;
    if (policy.subnormals === "flush" && c.subnormal) {
      policySkipped++;
      return;
    }
    const xs = c.inputs.map((m, k) => readMatrix(m, `${label} input ${k + 1}`));
    const params = c.params.map((p) => {
      const v = readNumber(p, `${label} parameter ${p.name}`);
      if (p.kind === "integer" && !Number.isInteger(v)) throw new Error(`${label}: integer parameter ${p.name} = ${v}`);
      return v;
    });
    const g = readMatrix(c.cotangent, `${label} cotangent`);
    let y;
    let cts;
    try {
      y = impl.forward(xs, params);
      entries += y.data.length;
      compare(y, readMatrix(c.output, label), readMatrix(c.output_tolerance, label, true), `${label} output`, failures, signs);
      cts = impl.vjp(g, y, xs, params);
    } catch (e) {
      failures.push(`${label}: raised ${e.message}`);
      return;
    }
    cts.forEach((ct, k) => {
      entries += ct.data.length;
      compare(ct, readMatrix(c.vjp[k], label), readMatrix(c.vjp_tolerance[k], label, true), `${label} vjp of input ${k + 1}`, failures);
    });
  });
  return { op: doc.op, skipped: false, cases: doc.cases.length, entries, failures, policySkipped };
}

// ------------------------------------------------------------------ training traces
// The model, loss and optimiser of a trace, written by hand the way a port would: forward
// pass keeping what the backward pass needs, backward pass with the ops' VJPs, update rule.
function forward(layers, P, X) {
  const tape = [];
  let h = X;
  for (const L of layers) {
    if (L.kind === "dense") {
      const z = add(matmul(h, P[L.weight]), broadcast(P[L.bias], h.rows, P[L.bias].cols));
      tape.push({ L, x: h });
      h = z;
    } else if (L.kind === "tanh") {
      h = tanh(h);
      tape.push({ L, y: h });
    } else if (L.kind === "sine") {
      const s = scale(L.omega0, h);
      tape.push({ L, s });
      h = sin(s);
    } else throw new Error(`unknown layer kind ${L.kind}`);
  }
  return { out: h, tape };
}

function lossAndGrad(kind, Z, Y) {
  const c = 1 / Z.data.length; // the mean's VJP: the double nearest 1/m, times the 1×1 seed 1
  if (kind === "mse") {
    const d = sub(Z, Y);
    const loss = sumList(square(d).data) / Z.data.length;
    return { loss, g: hadamard(map(d, () => c), scale(2, d)) };
  }
  if (kind === "bce_with_logits") {
    const terms = sub(map(Z, softplus1), hadamard(Y, Z));
    const loss = sumList(terms.data) / Z.data.length;
    const G = map(Z, () => c);
    return { loss, g: add(hadamard(G, sigmoid(Z)), hadamard(neg(G), Y)) };
  }
  throw new Error(`unknown loss ${kind}`);
}

function backward(tape, P, g) {
  const grads = {};
  for (let k = tape.length - 1; k >= 0; k--) {
    const t = tape[k];
    if (t.L.kind === "dense") {
      grads[t.L.weight] = matmul(transpose(t.x), g);
      grads[t.L.bias] = sumRows(g);
      if (k > 0) g = matmul(g, transpose(P[t.L.weight]));
    } else if (t.L.kind === "tanh") {
      g = sub(g, hadamard(g, square(t.y)));
    } else if (t.L.kind === "sine") {
      g = scale(t.L.omega0, hadamard(g, cos(t.s)));
    }
  }
  return grads;
}

function makeOptimizer(o, names, P) {
  const num = (key) => readNumber(o[key], `optimizer ${key}`);
  if (o.kind === "sgd") {
    const lr = num("lr");
    return (G) => {
      for (const n of names) P[n] = sub(P[n], scale(lr, G[n]));
    };
  }
  if (o.kind === "momentum") {
    const lr = num("lr");
    const mu = num("momentum");
    const V = Object.fromEntries(names.map((n) => [n, scale(0, P[n])]));
    return (G) => {
      for (const n of names) {
        V[n] = add(scale(mu, V[n]), G[n]);
        P[n] = sub(P[n], scale(lr, V[n]));
      }
    };
  }
  if (o.kind === "adam") {
    const [lr, b1, b2, eps] = ["lr", "b1", "b2", "eps"].map(num);
    const M = Object.fromEntries(names.map((n) => [n, scale(0, P[n])]));
    const V = Object.fromEntries(names.map((n) => [n, scale(0, P[n])]));
    let t = 0;
    return (G) => {
      t += 1;
      const stepSize = lr / (1 - b1 ** t); // lr·m̂ = stepSize·m
      const vCorr = 1 / (1 - b2 ** t); // v̂ = vCorr·v
      for (const n of names) {
        M[n] = add(scale(b1, M[n]), scale(1 - b1, G[n]));
        V[n] = add(scale(b2, V[n]), scale(1 - b2, square(G[n])));
        const delta = div(scale(stepSize, M[n]), addScalar(map(scale(vCorr, V[n]), Math.sqrt), eps));
        P[n] = sub(P[n], delta);
      }
    };
  }
  throw new Error(`unknown optimizer ${o.kind}`);
}

function checkTrace(path) {
  const doc = JSON.parse(readFileSync(path, "utf8"));
  if (doc.format !== TRACE_FORMAT || doc.version !== VERSION) {
    throw new Error(`${path}: unsupported format ${doc.format} version ${doc.version}`);
  }
  const layers = doc.layers.map((L) => (L.kind === "sine" ? { ...L, omega0: readNumber(L.omega0, "omega0") } : L));
  const names = doc.initial_params.map((p) => p.name);
  const P = Object.fromEntries(doc.initial_params.map((p) => [p.name, readMatrix(p.value, p.name)]));
  const X = readMatrix(doc.data.X, "X");
  const Y = readMatrix(doc.data.Y, "Y");
  const update = makeOptimizer(doc.optimizer, names, P);
  worstRatio = 0;
  const failures = [];
  let numbers = 0;
  for (const s of doc.steps) {
    const { out, tape } = forward(layers, P, X);
    const { loss, g } = lossAndGrad(doc.loss.kind, out, Y);
    const G = backward(tape, P, g);
    update(G);
    numbers += 1;
    const msg = mismatch(loss, readNumber(s.loss, "loss"), readNumber(s.loss_tolerance, "loss tolerance"));
    if (msg !== null) failures.push(`step ${s.step} loss: ${msg}`);
    for (const e of s.grads) {
      numbers += e.value.decimal.length;
      compare(G[e.name], readMatrix(e.value, e.name), readMatrix(e.tolerance, e.name, true), `step ${s.step} gradient of ${e.name}`, failures);
    }
    for (const e of s.params_after) {
      numbers += e.value.decimal.length;
      compare(P[e.name], readMatrix(e.value, e.name), readMatrix(e.tolerance, e.name, true), `step ${s.step} ${e.name} after the update`, failures);
    }
  }
  return { name: doc.name, steps: doc.steps.length, numbers, failures, worst: worstRatio };
}

// ------------------------------------------------------------------ main
function parseArgs(argv) {
  const rest = [];
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    if (a === "--subnormals" || a === "--signed-zero") {
      const v = argv[++k];
      const allowed = a === "--subnormals" ? ["strict", "flush"] : ["strict", "ignore"];
      if (!allowed.includes(v)) throw new Error(`${a} takes ${allowed.join(" or ")}, got ${v}`);
      if (a === "--subnormals") policy.subnormals = v;
      else policy.signedZero = v;
    } else rest.push(a);
  }
  if (rest.length !== 1) throw new Error("expected one directory");
  return rest[0];
}

function main(argv) {
  let dir;
  try {
    dir = parseArgs(argv);
  } catch (e) {
    console.error(`${e.message}\nusage: node check_vectors.mjs DIR [--subnormals strict|flush] [--signed-zero strict|ignore]`);
    return 2;
  }
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
  console.log(`policy: subnormals=${policy.subnormals}, signed_zero=${policy.signedZero}`);
  let passed = 0;
  let failed = 0;
  let policySkipped = 0;
  const skipped = [];
  for (const f of files) {
    let r;
    try {
      r = checkOpFile(join(dir, f));
    } catch (e) {
      console.error(`${f}: ${e.message}`);
      return 2;
    }
    if (r.skipped) {
      skipped.push(r.op);
      continue;
    }
    policySkipped += r.policySkipped;
    const note = r.policySkipped ? `, ${r.policySkipped} skipped by policy` : "";
    if (r.failures.length === 0) {
      passed++;
      console.log(`ok    ${r.op} (${r.cases} cases, ${r.entries} entries${note})`);
    } else {
      failed++;
      console.log(`FAIL  ${r.op}`);
      for (const msg of r.failures) console.log(`      ${msg}`);
    }
  }
  if (skipped.length) console.log(`skipped (not implemented in this checker): ${skipped.join(", ")}`);
  console.log(`ops: ${passed} passed, ${failed} failed, ${skipped.length} skipped`);
  console.log(`cases skipped by policy (subnormals=${policy.subnormals}): ${policySkipped}`);

  const tdir = join(dir, "traces");
  const traces = existsSync(tdir) ? readdirSync(tdir).filter((f) => f.endsWith(".json")).sort() : [];
  let tpassed = 0;
  let tfailed = 0;
  for (const f of traces) {
    let r;
    try {
      r = checkTrace(join(tdir, f));
    } catch (e) {
      console.error(`traces/${f}: ${e.message}`);
      return 2;
    }
    if (r.failures.length === 0) {
      tpassed++;
      const used = (100 * r.worst).toPrecision(2);
      console.log(`ok    trace ${r.name} (${r.steps} steps, ${r.numbers} numbers, at most ${used}% of a tolerance used)`);
    } else {
      tfailed++;
      console.log(`FAIL  trace ${r.name}: first failure at ${r.failures[0]}`);
      for (const msg of r.failures.slice(1, 6)) console.log(`      ${msg}`);
      if (r.failures.length > 6) console.log(`      … ${r.failures.length - 6} more`);
    }
  }
  console.log(`traces: ${tpassed} passed, ${tfailed} failed`);
  return failed === 0 && tfailed === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
