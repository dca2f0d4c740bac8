/**
 * Connected components of a binary mask (4-connectivity), by union-find over horizontal
 * runs rather than pixels: a garment mask has a few runs per row, so the work and memory
 * follow the shape's outline, not its area, and there is no recursion to overflow.
 */

/** Sizes in pixels of the 4-connected components of the non-zero pixels, in no set order. */
export function componentSizes(data: Uint8Array, width: number, height: number): number[] {
  const runs = new RunTable(Math.max(64, height * 2));
  let prevFirst = 0;
  let prevLast = 0;
  for (let y = 0; y < height; y++) {
    const rowFirst = runs.length;
    const base = y * width;
    let p = prevFirst;
    let x = 0;
    while (x < width) {
      if (data[base + x] === 0) {
        x++;
        continue;
      }
      const s = x;
      while (x < width && data[base + x] !== 0) x++;
      const r = runs.push(s, x);
      // Runs of the previous row are sorted; skip those ending before this one starts.
      while (p < prevLast && runs.end[p]! <= s) p++;
      for (let q = p; q < prevLast && runs.start[q]! < x; q++) runs.union(r, q);
    }
    prevFirst = rowFirst;
    prevLast = runs.length;
  }
  return runs.rootSizes();
}

class RunTable {
  start: Int32Array;
  end: Int32Array;
  parent: Int32Array;
  length = 0;

  constructor(capacity: number) {
    this.start = new Int32Array(capacity);
    this.end = new Int32Array(capacity);
    this.parent = new Int32Array(capacity);
  }

  push(start: number, end: number): number {
    if (this.length === this.start.length) this.grow();
    const i = this.length++;
    this.start[i] = start;
    this.end[i] = end;
    this.parent[i] = i;
    return i;
  }

  find(i: number): number {
    const parent = this.parent;
    let r = i;
    while (parent[r] !== r) {
      const grand = parent[parent[r]!]!;
      parent[r] = grand; // path halving
      r = grand;
    }
    return r;
  }

  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return;
    // Linking to the older run keeps the result independent of hash or iteration order.
    if (ra < rb) this.parent[rb] = ra;
    else this.parent[ra] = rb;
  }

  rootSizes(): number[] {
    const size = new Int32Array(this.length);
    for (let i = 0; i < this.length; i++) size[this.find(i)]! += this.end[i]! - this.start[i]!;
    const out: number[] = [];
    for (let i = 0; i < this.length; i++) if (this.parent[i] === i) out.push(size[i]!);
    return out;
  }

  private grow(): void {
    const cap = this.start.length * 2;
    const grown = (a: Int32Array) => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    this.start = grown(this.start);
    this.end = grown(this.end);
    this.parent = grown(this.parent);
  }
}
