/**
 * A small builder for mixed-integer linear programs in the shape HiGHS takes them (columns with
 * cost, bounds and integrality; rows as a compressed sparse row matrix with lower and upper
 * bounds), so a model is built in one pass without LP text to print and parse.
 */

/** A MILP as HiGHS's `ModelData` wants it (minimisation). */
export interface SparseMilp {
  readonly numCols: number;
  readonly numRows: number;
  readonly offset: number;
  readonly colCost: Float64Array;
  readonly colLower: Float64Array;
  readonly colUpper: Float64Array;
  readonly rowLower: Float64Array;
  readonly rowUpper: Float64Array;
  readonly integrality: Int32Array;
  readonly starts: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float64Array;
}

/** Builds a `SparseMilp` column by column and row by row. Indices are returned as they are added. */
export class SparseMilpBuilder {
  private readonly cost: number[] = [];
  private readonly lower: number[] = [];
  private readonly upper: number[] = [];
  private readonly integer: number[] = [];
  private readonly rowLo: number[] = [];
  private readonly rowHi: number[] = [];
  private readonly starts: number[] = [0];
  private readonly indices: number[] = [];
  private readonly values: number[] = [];
  /** Constant added to the objective. */
  offset = 0;

  /** A binary column with objective coefficient `cost`; its index. */
  binary(cost = 0): number {
    return this.column(cost, 0, 1, true);
  }

  /** A column with bounds; its index. */
  column(cost: number, lower: number, upper: number, isInteger: boolean): number {
    this.cost.push(cost);
    this.lower.push(lower);
    this.upper.push(upper);
    this.integer.push(isInteger ? 1 : 0);
    return this.cost.length - 1;
  }

  /** Fixes a column to `value` (both bounds). */
  fix(column: number, value: number): void {
    this.lower[column] = value;
    this.upper[column] = value;
  }

  /**
   * A row lower ≤ Σ coefficients·columns ≤ upper (±Infinity for none). Repeated columns are summed
   * (HiGHS refuses a row naming a column twice); zero coefficients are dropped.
   */
  row(lower: number, upper: number, columns: readonly number[], coefficients: readonly number[]): void {
    const merged = new Map<number, number>();
    columns.forEach((column, i) => merged.set(column, (merged.get(column) ?? 0) + (coefficients[i] ?? 0)));
    for (const [column, value] of merged) {
      if (value === 0) continue;
      this.indices.push(column);
      this.values.push(value);
    }
    this.starts.push(this.indices.length);
    this.rowLo.push(lower);
    this.rowHi.push(upper);
  }

  get columns(): number {
    return this.cost.length;
  }

  get rows(): number {
    return this.rowLo.length;
  }

  build(): SparseMilp {
    return {
      numCols: this.cost.length,
      numRows: this.rowLo.length,
      offset: this.offset,
      colCost: Float64Array.from(this.cost),
      colLower: Float64Array.from(this.lower),
      colUpper: Float64Array.from(this.upper),
      rowLower: Float64Array.from(this.rowLo),
      rowUpper: Float64Array.from(this.rowHi),
      integrality: Int32Array.from(this.integer),
      starts: Int32Array.from(this.starts),
      indices: Int32Array.from(this.indices),
      values: Float64Array.from(this.values),
    };
  }
}

/** `model` with one more row lower ≤ Σ coefficients·columns ≤ upper (a cut added between solves). */
export function withRow(
  model: SparseMilp,
  lower: number,
  upper: number,
  columns: readonly number[],
  coefficients: readonly number[],
): SparseMilp {
  const entries = columns.length;
  const starts = new Int32Array(model.numRows + 2);
  starts.set(model.starts);
  starts[model.numRows + 1] = (model.starts[model.numRows] ?? 0) + entries;
  const indices = new Int32Array(model.indices.length + entries);
  indices.set(model.indices);
  indices.set(columns, model.indices.length);
  const values = new Float64Array(model.values.length + entries);
  values.set(model.values);
  values.set(coefficients, model.values.length);
  const rowLower = new Float64Array(model.numRows + 1);
  rowLower.set(model.rowLower);
  rowLower[model.numRows] = lower;
  const rowUpper = new Float64Array(model.numRows + 1);
  rowUpper.set(model.rowUpper);
  rowUpper[model.numRows] = upper;
  return { ...model, numRows: model.numRows + 1, starts, indices, values, rowLower, rowUpper };
}
