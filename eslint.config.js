// ESLint flat config: typescript-eslint's strict type-checked rules over the product and the tests.
// Formatting belongs to Prettier (.prettierrc.json); eslint-config-prettier switches off every rule
// that would disagree with it. Each rule turned off or down below says why, in one line.
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  {
    ignores: [
      "dist/",
      "node_modules/",
      "test/artifacts/",
      ".inferwatch/",
      "alerts/generated/",
      "dashboards/generated/",
      "docs/reference/",
      "analyzer/console/client/echarts*",
      "test/bench/data/",
      "test/fixtures/**/*.js",
    ],
  },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // One TypeScript program per tsconfig (the root one, and the console client's checkJs one).
        projectService: { allowDefaultProject: ["eslint.config.js", "vitest.config.ts"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // Added beyond strict-type-checked.
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      "@typescript-eslint/consistent-type-imports": "error",

      // Down: numbers (797 sites: units, ports, counts) and null/undefined in messages print fine.
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true, allowNullish: true },
      ],
      // Off: stylistic; `(x) => resolve(x)` arrow shorthand is the house idiom (222 sites) and tsc
      // already refuses to use a void value.
      "@typescript-eslint/no-confusing-void-expression": "off",
      // Off: flags defensive `?.`/`??` on data parsed from the wire or from files whose declared type
      // is stricter than what arrives (46 sites); removing them would weaken input guards.
      "@typescript-eslint/no-unnecessary-condition": "off",
      // Off: async methods that implement Promise-returning contracts (Component.start, store queries)
      // stay async so a throw becomes a rejection (36 sites).
      "@typescript-eslint/require-await": "off",
      // Down: the `_name` prefix marks a deliberately unused binding, as tsc's noUnused* allows.
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" },
      ],
      // Down: `let x; … () => x …; x = …` (a closure reads it before its one assignment) cannot be const.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
      // Down: grafana-foundation-sdk marks its v1 dashboard model deprecated in favour of v2; our
      // generated dashboards target the v1 JSON model that Grafana provisioning loads.
      "@typescript-eslint/no-deprecated": [
        "error",
        {
          allow: [
            { from: "package", package: "@grafana/grafana-foundation-sdk", name: ["Dashboard", "DashboardBuilder"] },
          ],
        },
      ],
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      // Off in tests: they read res.json()/JSON.parse/page.evaluate results and assert on them with
      // expect(); a schema per response would add code without adding a check.
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      // Off in tests: `!` after an expect() that established presence is the readable form.
      "@typescript-eslint/no-non-null-assertion": "off",
      // Off in tests: the rejection callback types a child process's failure ({ code, stderr }) and the
      // test then asserts on those fields, so a wrong guess fails the test.
      "@typescript-eslint/use-unknown-in-catch-callback-variable": "off",
      // Off in tests: fixtures delete a named field to build deliberately malformed input.
      "@typescript-eslint/no-dynamic-delete": "off",
    },
  },
  {
    files: ["analyzer/console/client/**/*.js"],
    rules: {
      // Off: the client is type-checked with checkJs and DOM libs, which already reports undefined
      // names; ESLint's no-undef does not know the browser or the echarts global.
      "no-undef": "off",
    },
  },
  prettier,
);
