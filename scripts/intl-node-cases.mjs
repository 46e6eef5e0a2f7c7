// Prints the expected outputs of crates/runtime/src/web/tests/intl_node.rs:
// each case's JavaScript run by Node (full ICU) for every locale, as Rust
// tuples. Regenerate with
//   node scripts/intl-node-cases.mjs > /tmp/cases.rs
// and paste the table into the test's CASES (recorded with Node 20.20.2,
// ICU 78.2, CLDR 48.0), moving the cases where Clockwork's ICU4X data
// differs into its DIFFERENCES with both outputs.
const locales = ['en-US', 'de-DE', 'fr-FR', 'es-MX', 'pt-BR', 'ja-JP', 'zh-CN', 'ko-KR', 'hi-IN'];

// `L` is the locale under test.
const cases = [
  // currency: symbol, placement and spacing
  "new Intl.NumberFormat(L, { style: 'currency', currency: 'EUR' }).format(1234.5)",
  "new Intl.NumberFormat(L, { style: 'currency', currency: 'USD' }).format(-1234.5)",
  "new Intl.NumberFormat(L, { style: 'currency', currency: 'JPY' }).format(1234.5)",
  "new Intl.NumberFormat(L, { style: 'currency', currency: 'INR' }).format(1234567.891)",
  "new Intl.NumberFormat(L, { style: 'currency', currency: 'BRL', currencyDisplay: 'code' }).format(12.3)",
  "new Intl.NumberFormat(L, { style: 'currency', currency: 'USD', currencyDisplay: 'narrowSymbol' }).format(7)",
  "new Intl.NumberFormat(L, { style: 'currency', currency: 'EUR', currencyDisplay: 'name' }).format(2.5)",
  "new Intl.NumberFormat(L, { style: 'currency', currency: 'USD', currencyDisplay: 'name', maximumFractionDigits: 0 }).format(1)",
  "new Intl.NumberFormat(L, { style: 'currency', currency: 'EUR', maximumFractionDigits: 0 }).format(5)",
  "new Intl.NumberFormat(L, { style: 'currency', currency: 'USD', minimumFractionDigits: 3 }).format(0.5)",
  "new Intl.NumberFormat(L, { style: 'currency', currency: 'EUR', signDisplay: 'always' }).format(3)",
  "new Intl.NumberFormat(L, { style: 'currency', currency: 'EUR' }).formatToParts(-1234.5).map((p) => p.type + ':' + p.value).join('|')",
  "(42).toLocaleString(L, { style: 'currency', currency: 'KRW' })",
  // percent
  "new Intl.NumberFormat(L, { style: 'percent' }).format(0.256)",
  "new Intl.NumberFormat(L, { style: 'percent', maximumFractionDigits: 1 }).format(-0.1234)",
  "new Intl.NumberFormat(L, { style: 'percent' }).formatToParts(0.5).map((p) => p.type + ':' + p.value).join('|')",
  // compact
  "new Intl.NumberFormat(L, { notation: 'compact' }).format(1500000)",
  "new Intl.NumberFormat(L, { notation: 'compact' }).format(1234)",
  "new Intl.NumberFormat(L, { notation: 'compact', compactDisplay: 'long' }).format(2500000)",
  "new Intl.NumberFormat(L, { notation: 'compact' }).format(-45000)",
  // units
  "new Intl.NumberFormat(L, { style: 'unit', unit: 'hour' }).format(3)",
  "new Intl.NumberFormat(L, { style: 'unit', unit: 'day', unitDisplay: 'long' }).format(1)",
  "new Intl.NumberFormat(L, { style: 'unit', unit: 'minute', unitDisplay: 'long' }).format(2)",
  "new Intl.NumberFormat(L, { style: 'unit', unit: 'millisecond', unitDisplay: 'narrow' }).format(250)",
  "new Intl.NumberFormat(L, { style: 'unit', unit: 'kilometer', unitDisplay: 'long' }).format(5)",
  "new Intl.NumberFormat(L, { style: 'unit', unit: 'meter' }).format(1234.5)",
  "new Intl.NumberFormat(L, { style: 'unit', unit: 'kilogram', unitDisplay: 'long' }).format(1)",
  "new Intl.NumberFormat(L, { style: 'unit', unit: 'liter', unitDisplay: 'short' }).format(2)",
  "new Intl.NumberFormat(L, { style: 'unit', unit: 'mile', unitDisplay: 'narrow' }).format(26.2)",
  "new Intl.NumberFormat(L, { style: 'unit', unit: 'hectare' }).format(12)",
  "new Intl.NumberFormat(L, { style: 'unit', unit: 'percent' }).format(50)",
  "new Intl.NumberFormat(L, { style: 'unit', unit: 'week', unitDisplay: 'long' }).formatToParts(2).map((p) => p.type + ':' + p.value).join('|')",
  // relative time
  "new Intl.RelativeTimeFormat(L).format(-1, 'day')",
  "new Intl.RelativeTimeFormat(L).format(3, 'hours')",
  "new Intl.RelativeTimeFormat(L).format(-2, 'year')",
  "new Intl.RelativeTimeFormat(L).format(2.5, 'days')",
  "new Intl.RelativeTimeFormat(L).format(-1234, 'minutes')",
  "new Intl.RelativeTimeFormat(L, { numeric: 'auto' }).format(-1, 'day')",
  "new Intl.RelativeTimeFormat(L, { numeric: 'auto' }).format(1, 'week')",
  "new Intl.RelativeTimeFormat(L, { numeric: 'auto' }).format(0, 'second')",
  "new Intl.RelativeTimeFormat(L, { numeric: 'auto' }).format(2, 'day')",
  "new Intl.RelativeTimeFormat(L, { style: 'short' }).format(5, 'month')",
  "new Intl.RelativeTimeFormat(L, { style: 'narrow' }).format(-10, 'second')",
  "new Intl.RelativeTimeFormat(L, { style: 'short' }).format(1, 'quarter')",
  "new Intl.RelativeTimeFormat(L).formatToParts(-3, 'hour').map((p) => p.type + ':' + p.value + (p.unit ? ':' + p.unit : '')).join('|')",
];

const quote = (text) => JSON.stringify(text).replace(/[\u0080-\uffff]/g, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`);
for (const L of locales) {
  for (const source of cases) {
    // eslint-disable-next-line no-new-func
    const value = String(new Function('L', `return ${source}`)(L));
    console.log(`    (${quote(L)}, ${quote(source)}, ${quote(value)}),`);
  }
}
