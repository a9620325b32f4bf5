/**
 * Forecasts of a daily series (one value per day, e.g. the day's peak demand) with trend and weekly
 * seasonality: additive Holt-Winters (ETS(A,A,A)), the smoothing constants chosen by least squares
 * of the one-step-ahead errors over a grid, and a prediction interval from the in-sample residuals.
 * Pure functions; no dates inside (day indexes only), the caller maps them to calendar days.
 *
 * Method: Hyndman & Athanasopoulos, "Forecasting: Principles and Practice", 3rd ed.,
 * https://otexts.com/fpp3/holt-winters.html (recursions, additive form) and
 * https://otexts.com/fpp3/ets-forecasting.html (forecast variance of ETS(A,A,A):
 * σ²·[1 + Σ_{j=1}^{h−1} c_j²], c_j = α + αβ·j + γ·[j mod m = 0], where β is the trend's smoothing
 * constant of the component form (β* there) and γ the seasonal one of FPP3's seasonal equation).
 */

/** How a forecast was made, in words and as data. */
export interface ForecastMethod {
  /** `holt-winters` (trend + season), `linear` (too few days for two seasons: least-squares line), `flat` (fewer than 3 days). */
  readonly kind: "holt-winters" | "linear" | "flat";
  readonly description: string;
  readonly seasonLength: number;
  readonly alpha: number | null;
  readonly beta: number | null;
  readonly gamma: number | null;
  /** Standard deviation of the in-sample one-step-ahead residuals, in the series' unit. */
  readonly residualSigma: number;
  /** Days the model was fitted on. */
  readonly observations: number;
}

/** One forecast day: the point forecast and its prediction interval. */
export interface ForecastPoint {
  /** Days after the last observation (1 = the next day). */
  readonly step: number;
  readonly value: number;
  readonly lower: number;
  readonly upper: number;
}

/** A fitted series and its forecast. */
export interface Forecast {
  readonly method: ForecastMethod;
  /** One-step-ahead fitted values for the observed days (null where the model had no forecast yet). */
  readonly fitted: readonly (number | null)[];
  readonly points: readonly ForecastPoint[];
  /** Level and trend per day at the end of the observations. */
  readonly level: number;
  readonly trendPerDay: number;
  /** Seasonal offsets by day of the season, aligned so index 0 is the first observed day's position. */
  readonly season: readonly number[];
  /** Coverage of the interval, e.g. 0.95. */
  readonly coverage: number;
}

/** Options for {@link forecastDaily}. */
export interface ForecastOptions {
  /** Days to forecast. */
  readonly horizon: number;
  /** Season length in days. Default 7 (weekly). */
  readonly seasonLength?: number;
  /** Two-sided z of the interval. Default 1.96 (95 %). */
  readonly z?: number;
}

const ALPHAS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const BETAS = [0, 0.01, 0.05, 0.1, 0.2, 0.3];
const GAMMAS = [0.01, 0.05, 0.1, 0.2, 0.3, 0.5];
/** z of a two-sided 95 % normal interval. */
const Z95 = 1.959964;

interface Fit {
  readonly sse: number;
  readonly fitted: (number | null)[];
  readonly level: number;
  readonly trend: number;
  readonly season: number[];
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/**
 * Runs the recursions from the classical start: level and trend from the first two seasons' means
 * (the level placed at the end of the first season), seasonal offsets as the first season's
 * deviations from that line. One-step-ahead errors are counted from the second season on.
 */
function fitHoltWinters(y: readonly number[], m: number, alpha: number, beta: number, gamma: number): Fit {
  const first = mean(y.slice(0, m));
  const second = mean(y.slice(m, 2 * m));
  let trend = (second - first) / m;
  // The first season's mean sits at its centre, (m − 1) / 2 days before its last day.
  let level = first + (trend * (m - 1)) / 2;
  const season = y.slice(0, m).map((value, i) => value - (first + trend * (i - (m - 1) / 2)));
  const fitted: (number | null)[] = y.slice(0, m).map(() => null);
  let sse = 0;
  for (let t = m; t < y.length; t++) {
    const s = season[t % m] as number;
    const forecast = level + trend + s;
    const value = y[t] as number;
    fitted.push(forecast);
    sse += (value - forecast) ** 2;
    const previousLevel = level;
    const previousTrend = trend;
    level = alpha * (value - s) + (1 - alpha) * (level + trend);
    trend = beta * (level - previousLevel) + (1 - beta) * trend;
    // FPP3's seasonal equation (against the previous level and trend), whose γ is the state-space γ the variance formula uses.
    season[t % m] = gamma * (value - previousLevel - previousTrend) + (1 - gamma) * s;
  }
  return { sse, fitted, level, trend, season };
}

/** Least-squares line through (i, y_i): intercept at i = 0 and slope per day. */
function leastSquares(y: readonly number[]): { intercept: number; slope: number } {
  const n = y.length;
  const meanX = (n - 1) / 2;
  const meanY = mean(y);
  let sxy = 0;
  let sxx = 0;
  y.forEach((value, i) => {
    sxy += (i - meanX) * (value - meanY);
    sxx += (i - meanX) ** 2;
  });
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { intercept: meanY - slope * meanX, slope };
}

/**
 * Forecasts `horizon` days after a daily series. With at least two full seasons (14 days for a
 * weekly season) it fits additive Holt-Winters, choosing α, β, γ on a grid by the least sum of
 * squared one-step-ahead errors; with 3 to 2m − 1 days a least-squares line (no season); with
 * fewer, the last value, flat. The interval is point ± z·σ·√(1 + Σ c_j²) with σ from the residuals
 * (divided by n − parameters); for the line, σ·√(1 + 1/n + (x − x̄)²/Sxx). Non-finite inputs throw.
 */
export function forecastDaily(series: readonly number[], options: ForecastOptions): Forecast {
  const m = options.seasonLength ?? 7;
  const z = options.z ?? Z95;
  const coverage = 2 * normalCdf(z) - 1;
  if (!Number.isInteger(options.horizon) || options.horizon < 0)
    throw new Error(`forecast: horizon must be a whole number of days ≥ 0, got ${options.horizon}`);
  if (!Number.isInteger(m) || m < 2) throw new Error(`forecast: season length must be a whole number ≥ 2, got ${m}`);
  const bad = series.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`forecast: day ${bad} is not a finite number (${String(series[bad])})`);
  const n = series.length;
  const steps = Array.from({ length: options.horizon }, (_, i) => i + 1);
  if (n >= 2 * m) return holtWinters(series, m, z, coverage, steps);
  if (n >= 3) return linear(series, m, z, coverage, steps);
  const last = n === 0 ? 0 : (series[n - 1] as number);
  return {
    method: {
      kind: "flat",
      description: `fewer than 3 days of history (${n}): the last value carried forward, no interval`,
      seasonLength: m,
      alpha: null,
      beta: null,
      gamma: null,
      residualSigma: 0,
      observations: n,
    },
    fitted: series.map(() => null),
    points: steps.map((step) => ({ step, value: last, lower: last, upper: last })),
    level: last,
    trendPerDay: 0,
    season: Array.from({ length: m }, () => 0),
    coverage,
  };
}

function holtWinters(y: readonly number[], m: number, z: number, coverage: number, steps: readonly number[]): Forecast {
  let best: (Fit & { alpha: number; beta: number; gamma: number }) | undefined;
  for (const alpha of ALPHAS) {
    for (const beta of BETAS) {
      for (const gamma of GAMMAS) {
        const fit = fitHoltWinters(y, m, alpha, beta, gamma);
        if (!best || fit.sse < best.sse - 1e-12) best = { ...fit, alpha, beta, gamma };
      }
    }
  }
  const fit = best as Fit & { alpha: number; beta: number; gamma: number };
  const errors = y.length - m;
  // Residual degrees of freedom: errors less the three smoothing constants (at least 1).
  const sigma = Math.sqrt(fit.sse / Math.max(1, errors - 3));
  const n = y.length;
  let cumulative = 0;
  const points = steps.map((h): ForecastPoint => {
    if (h > 1) {
      const j = h - 1;
      const c = fit.alpha + fit.alpha * fit.beta * j + (j % m === 0 ? fit.gamma : 0);
      cumulative += c * c;
    }
    const value = fit.level + h * fit.trend + (fit.season[(n - 1 + h) % m] as number);
    const half = z * sigma * Math.sqrt(1 + cumulative);
    return { step: h, value, lower: value - half, upper: value + half };
  });
  return {
    method: {
      kind: "holt-winters",
      description: `additive Holt-Winters (trend + ${m}-day season) on ${n} daily values; α=${fit.alpha}, β=${fit.beta}, γ=${fit.gamma} chosen by least squares of one-step-ahead errors; ${Math.round(coverage * 100)} % interval from in-sample residuals (σ=${round(sigma)})`,
      seasonLength: m,
      alpha: fit.alpha,
      beta: fit.beta,
      gamma: fit.gamma,
      residualSigma: sigma,
      observations: n,
    },
    fitted: fit.fitted,
    points,
    level: fit.level,
    trendPerDay: fit.trend,
    season: Array.from({ length: m }, (_, i) => fit.season[i] as number),
    coverage,
  };
}

function linear(y: readonly number[], m: number, z: number, coverage: number, steps: readonly number[]): Forecast {
  const n = y.length;
  const { intercept, slope } = leastSquares(y);
  const fitted = y.map((_, i) => intercept + slope * i);
  const sse = y.reduce((sum, value, i) => sum + (value - (fitted[i] as number)) ** 2, 0);
  const sigma = Math.sqrt(sse / Math.max(1, n - 2));
  const meanX = (n - 1) / 2;
  const sxx = y.reduce((sum, _, i) => sum + (i - meanX) ** 2, 0);
  const points = steps.map((h): ForecastPoint => {
    const x = n - 1 + h;
    const value = intercept + slope * x;
    const half = z * sigma * Math.sqrt(1 + 1 / n + (x - meanX) ** 2 / sxx);
    return { step: h, value, lower: value - half, upper: value + half };
  });
  return {
    method: {
      kind: "linear",
      description: `least-squares line on ${n} daily values (fewer than two ${m}-day seasons: no seasonality); ${Math.round(coverage * 100)} % interval from residuals (σ=${round(sigma)})`,
      seasonLength: m,
      alpha: null,
      beta: null,
      gamma: null,
      residualSigma: sigma,
      observations: n,
    },
    fitted,
    points,
    level: intercept + slope * (n - 1),
    trendPerDay: slope,
    season: Array.from({ length: m }, () => 0),
    coverage,
  };
}

/** When a forecast first reaches a threshold: by the point forecast, and the interval of that day. */
export interface Crossing {
  /** Steps (days after the last observation) at which the point forecast first reaches the threshold; null beyond the horizon. */
  readonly step: number | null;
  /** Earliest: the upper bound first reaches it. */
  readonly earliestStep: number | null;
  /** Latest: the lower bound first reaches it; null when it does not within the horizon. */
  readonly latestStep: number | null;
}

/** The first days at which the forecast, its upper and its lower bound reach `threshold` (≥). */
export function firstCrossing(points: readonly ForecastPoint[], threshold: number): Crossing {
  const first = (pick: (p: ForecastPoint) => number) => points.find((p) => pick(p) >= threshold)?.step ?? null;
  return { step: first((p) => p.value), earliestStep: first((p) => p.upper), latestStep: first((p) => p.lower) };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 erf approximation, |error| < 1.5e-7). */
function normalCdf(x: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(x)) / Math.SQRT2);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}
