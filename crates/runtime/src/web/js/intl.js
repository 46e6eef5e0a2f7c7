// Clockwork web globals: Intl (QuickJS-ng has none). This side reads the
// options as ECMA-402 says and does the arithmetic; CLDR's locale data comes
// from ICU4X through the host (`host.intl…`, runtime/src/intl): locale
// resolution, date/time patterns and names, number symbols and grouping,
// percent, currency, unit and compact patterns, relative-time wording, plural
// rules, list patterns and collation. Units ICU4X has no names for (digital,
// temperature, compound `-per-` units) keep short English symbols (see
// docs/forge-compatibility.md). The default time zone is UTC (the sandbox has
// no host zone); IANA zones come from the bundled tz database.
export default function makeIntl(host, need) {
  // ---- locales ---------------------------------------------------------------
  // language → [decimal, group, numeric date order, 24-hour clock, date separator]
  const localeTable = {
    en: ['.', ',', 'MDY', false, '/'],
    'en-GB': ['.', ',', 'DMY', true, '/'],
    'en-AU': ['.', ',', 'DMY', false, '/'],
    'en-IN': ['.', ',', 'DMY', false, '/'],
    'en-CA': ['.', ',', 'YMD', false, '-'],
    de: [',', '.', 'DMY', true, '.'],
    fr: [',', '\u202f', 'DMY', true, '/'],
    es: [',', '.', 'DMY', true, '/'],
    it: [',', '.', 'DMY', true, '/'],
    nl: [',', '.', 'DMY', true, '-'],
    pt: [',', '.', 'DMY', true, '/'],
    sv: [',', '\u00a0', 'YMD', true, '-'],
    da: [',', '.', 'DMY', true, '.'],
    nb: [',', '\u00a0', 'DMY', true, '.'],
    fi: [',', '\u00a0', 'DMY', true, '.'],
    pl: [',', '\u00a0', 'DMY', true, '.'],
    ja: ['.', ',', 'YMD', true, '/'],
    zh: ['.', ',', 'YMD', true, '/'],
  };

  function canonicalLocales(locales) {
    if (locales === undefined) return [];
    const list = typeof locales === 'string' ? [locales] : [...locales];
    return list.map((tag) => {
      if (typeof tag !== 'string' || !/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/.test(tag)) {
        throw new RangeError(`Incorrect locale information provided`);
      }
      const [language, ...rest] = tag.split('-');
      return [language.toLowerCase(), ...rest.map((part) => (part.length === 2 ? part.toUpperCase() : part.length === 4 ? part[0].toUpperCase() + part.slice(1).toLowerCase() : part.toLowerCase()))].join('-');
    });
  }
  // → [resolved locale tag (ICU's choice, V8's fallback to en-US), table row]
  function resolveLocale(locales) {
    const tag = host.intlResolve(canonicalLocales(locales));
    const [language] = tag.split('-');
    const parts = tag.split('-');
    const region = parts.find((part, i) => i > 0 && part.length === 2);
    const row = localeTable[`${language}-${region}`] ?? localeTable[language] ?? (language === 'en' ? localeTable.en : [',', '.', 'DMY', true, '.']);
    return [tag, row];
  }
  // Makes an Intl class callable without `new`, as ECMA-402 allows for
  // NumberFormat, DateTimeFormat and Collator.
  function callable(Klass) {
    function constructor(locales = undefined, options = undefined) {
      return new Klass(locales, options);
    }
    Object.defineProperty(constructor, 'name', { value: Klass.name });
    constructor.prototype = Klass.prototype;
    Object.defineProperty(Klass.prototype, 'constructor', { value: constructor, writable: true, configurable: true });
    constructor.supportedLocalesOf = Klass.supportedLocalesOf;
    return constructor;
  }

  function getOption(options, name, allowed, fallback) {
    let value = options[name];
    if (value === undefined) return fallback;
    value = typeof allowed === 'boolean' ? Boolean(value) : String(value);
    if (Array.isArray(allowed) && !allowed.includes(value)) {
      throw new RangeError(`Value ${value} out of range for Intl options property ${name}`);
    }
    return value;
  }
  function getNumberOption(options, name, min, max, fallback) {
    const value = options[name];
    if (value === undefined) return fallback;
    const number = Number(value);
    if (!Number.isFinite(number) || number < min || number > max) throw new RangeError(`${name} value is out of range.`);
    return Math.floor(number);
  }
  function toOptions(options) {
    if (options === undefined) return { __proto__: null };
    if (options === null) throw new TypeError('Cannot convert undefined or null to object');
    return Object(options);
  }

  // ---- NumberFormat ------------------------------------------------------------
  // The shortest decimal form of a finite x >= 0 (what String(x) prints, as
  // ICU uses) → [digits as BigInt, scale]: x = digits / 10^scale.
  function decimalOf(x) {
    const text = String(x);
    const [mantissa, exponentText] = text.split('e');
    const exponent = exponentText === undefined ? 0 : Number(exponentText);
    const [whole, fraction = ''] = mantissa.split('.');
    let scale = fraction.length - exponent;
    let digits = whole + fraction;
    if (scale < 0) {
      digits += '0'.repeat(-scale);
      scale = 0;
    }
    return [BigInt(digits), scale];
  }
  const TEN = 10n;
  // Rounds digits/10^scale to `keep` fraction digits, half away from zero
  // (ECMA-402's default "halfExpand") → [integer text, fraction text].
  function roundTo(digits, scale, keep) {
    if (scale > keep) {
      const divisor = TEN ** BigInt(scale - keep);
      const remainder = digits % divisor;
      digits /= divisor;
      if (remainder * 2n >= divisor) digits += 1n;
    } else {
      digits *= TEN ** BigInt(keep - scale);
    }
    const text = digits.toString().padStart(keep + 1, '0');
    return [text.slice(0, text.length - keep), text.slice(text.length - keep)];
  }
  function toFixedParts(x, fractionDigits) {
    const [digits, scale] = decimalOf(x);
    return roundTo(digits, scale, fractionDigits);
  }
  function toPrecisionParts(x, minSignificant, maxSignificant) {
    if (x === 0) return ['0', minSignificant > 1 ? '0'.repeat(minSignificant - 1) : ''];
    const [digits, scale] = decimalOf(x);
    const length = digits.toString().length;
    // Keep `maxSignificant` digits: that many fraction digits less the integer ones.
    const keep = scale - (length - maxSignificant);
    let integer;
    let fraction;
    if (keep >= 0) {
      [integer, fraction] = roundTo(digits, scale, keep);
    } else {
      const [rounded] = roundTo(digits, scale - keep, 0);
      integer = rounded + '0'.repeat(-keep);
      fraction = '';
    }
    const significantSoFar = integer === '0' ? 0 : integer.length;
    const leadingZeros = integer === '0' ? fraction.length - fraction.replace(/^0+/, '').length : 0;
    return [integer, trimZeros(fraction, Math.max(0, minSignificant - significantSoFar + leadingZeros))];
  }
  function trimZeros(fraction, minimum) {
    let end = fraction.length;
    while (end > minimum && fraction[end - 1] === '0') end--;
    return fraction.slice(0, end);
  }
  // ECMA-402's sanctioned simple units; a unit is one of them or `X-per-Y`.
  const sanctionedUnits = new Set(['acre', 'bit', 'byte', 'celsius', 'centimeter', 'day', 'degree', 'fahrenheit', 'fluid-ounce', 'foot', 'gallon', 'gigabit', 'gigabyte', 'gram', 'hectare', 'hour', 'inch', 'kilobit', 'kilobyte', 'kilogram', 'kilometer', 'liter', 'megabit', 'megabyte', 'meter', 'microsecond', 'mile', 'mile-scandinavian', 'milliliter', 'millimeter', 'millisecond', 'minute', 'month', 'nanosecond', 'ounce', 'percent', 'petabyte', 'pound', 'second', 'stone', 'terabit', 'terabyte', 'week', 'yard', 'year']);
  function isSanctionedUnit(unit) {
    const parts = unit.split('-per-');
    return parts.length <= 2 && parts.every((part) => sanctionedUnits.has(part));
  }
  // English for the units ICU4X has no CLDR names for (digital units,
  // temperatures, `degree`) and for `-per-` compounds, as Node's en-US writes
  // them: unit → [short symbol, narrow symbol, long name, joined when narrow].
  const englishUnits = {
    bit: ['bit', 'bit', 'bit'], kilobit: ['kb', 'kb', 'kilobit'], megabit: ['Mb', 'Mb', 'megabit'], gigabit: ['Gb', 'Gb', 'gigabit'], terabit: ['Tb', 'Tb', 'terabit'],
    byte: ['byte', 'B', 'byte'], kilobyte: ['kB', 'kB', 'kilobyte'], megabyte: ['MB', 'MB', 'megabyte'], gigabyte: ['GB', 'GB', 'gigabyte'], terabyte: ['TB', 'TB', 'terabyte'], petabyte: ['PB', 'PB', 'petabyte'],
    celsius: ['°C', '°C', 'degree Celsius'], fahrenheit: ['°F', '°', 'degree Fahrenheit'], degree: ['deg', '°', 'degree'],
  };
  // Symbols of the units that appear in compounds (`km/h`, `MB/s`).
  const compoundSymbols = {
    hour: 'h', minute: 'min', second: 's', millisecond: 'ms', day: 'd', week: 'wk', month: 'mth', year: 'yr',
    meter: 'm', kilometer: 'km', centimeter: 'cm', millimeter: 'mm', mile: 'mi', foot: 'ft', inch: 'in', yard: 'yd',
    liter: 'L', milliliter: 'mL', gallon: 'gal', gram: 'g', kilogram: 'kg', pound: 'lb', ounce: 'oz',
  };
  function englishUnit(unit, display, singular) {
    const known = englishUnits[unit];
    if (known === undefined) {
      const symbol = compoundSymbols[unit] ?? unit;
      return display === 'long' ? (singular ? unit : `${unit}s`) : symbol;
    }
    if (display === 'long') return singular ? known[2] : known[2].replace(/^(\w+)/, '$1s');
    return display === 'narrow' ? known[1] : known[0];
  }
  // The English text after the number → [text, joined to the number without a space].
  function unitText(unit, display, singular) {
    const per = unit.split('-per-');
    if (per.length === 2) {
      if (display === 'long') return [`${englishUnit(per[0], 'long', singular)} per ${englishUnit(per[1], 'long', true)}`, false];
      return [`${englishUnit(per[0], display, singular)}/${englishUnit(per[1], display, true)}`, display === 'narrow'];
    }
    const joined = display === 'narrow' || (display === 'short' && (unit === 'celsius' || unit === 'fahrenheit'));
    return [englishUnit(unit, display, singular), joined && display !== 'long'];
  }

  class NumberFormat {
    #o;
    constructor(locales = undefined, options = undefined) {
      options = toOptions(options);
      const [locale, row] = resolveLocale(locales);
      const style = getOption(options, 'style', ['decimal', 'percent', 'currency', 'unit'], 'decimal');
      let currency = getOption(options, 'currency', undefined, undefined);
      if (currency !== undefined) {
        if (!/^[A-Za-z]{3}$/.test(currency)) throw new RangeError(`Invalid currency code : ${currency}`);
        currency = currency.toUpperCase();
      }
      if (style === 'currency' && currency === undefined) throw new TypeError('Currency code is required with currency style.');
      const unit = getOption(options, 'unit', undefined, undefined);
      if (style === 'unit' && unit === undefined) throw new TypeError('Unit is required with unit style.');
      if (unit !== undefined && !isSanctionedUnit(unit)) throw new RangeError(`Invalid unit argument for Intl.NumberFormat() '${unit}'`);
      const currencyDisplay = getOption(options, 'currencyDisplay', ['symbol', 'narrowSymbol', 'code', 'name'], 'symbol');
      const unitDisplay = getOption(options, 'unitDisplay', ['short', 'narrow', 'long'], 'short');
      const notation = getOption(options, 'notation', ['standard', 'scientific', 'engineering', 'compact'], 'standard');
      const compactDisplay = getOption(options, 'compactDisplay', ['short', 'long'], 'short');
      const currencyDigits = style === 'currency' ? host.intlCurrencyDigits(currency) : 0;
      const defaultMin = style === 'currency' ? currencyDigits : 0;
      const defaultMax = style === 'currency' ? currencyDigits : style === 'percent' ? 0 : 3;
      const minimumIntegerDigits = getNumberOption(options, 'minimumIntegerDigits', 1, 21, 1);
      let minimumFractionDigits = getNumberOption(options, 'minimumFractionDigits', 0, 100, undefined);
      let maximumFractionDigits = getNumberOption(options, 'maximumFractionDigits', 0, 100, undefined);
      if (minimumFractionDigits !== undefined && maximumFractionDigits !== undefined && maximumFractionDigits < minimumFractionDigits) {
        throw new RangeError('maximumFractionDigits value is out of range.');
      }
      minimumFractionDigits ??= Math.min(defaultMin, maximumFractionDigits ?? defaultMin);
      maximumFractionDigits ??= Math.max(defaultMax, minimumFractionDigits);
      const minimumSignificantDigits = getNumberOption(options, 'minimumSignificantDigits', 1, 21, undefined);
      const maximumSignificantDigits = getNumberOption(options, 'maximumSignificantDigits', 1, 21, undefined);
      const significant = minimumSignificantDigits !== undefined || maximumSignificantDigits !== undefined;
      let useGrouping = options.useGrouping;
      if (useGrouping === undefined || useGrouping === 'auto' || useGrouping === true || useGrouping === 'true') useGrouping = 'auto';
      else if (useGrouping === 'always' || useGrouping === 'min2') useGrouping = String(useGrouping);
      else if (useGrouping === false || useGrouping === 'false') useGrouping = false;
      else throw new RangeError(`Value ${useGrouping} out of range for Intl.NumberFormat options property useGrouping`);
      const signDisplay = getOption(options, 'signDisplay', ['auto', 'never', 'always', 'exceptZero', 'negative'], 'auto');
      this.#o = {
        locale, row, style, currency, currencyDisplay, unit, unitDisplay, notation, compactDisplay, minimumIntegerDigits,
        minimumFractionDigits, maximumFractionDigits, significant,
        minimumSignificantDigits: minimumSignificantDigits ?? 1,
        maximumSignificantDigits: maximumSignificantDigits ?? 21,
        useGrouping, signDisplay,
      };
    }

    formatToParts(value) {
      const o = this.#o;
      let x = typeof value === 'bigint' ? value : Number(value);
      if (typeof value === 'string' && value.trim() !== '' && /^[-+]?\d+$/.test(value.trim()) && !Number.isSafeInteger(x)) x = BigInt(value.trim());
      const negative = typeof x === 'bigint' ? x < 0n : x < 0 || Object.is(x, -0);
      let magnitude = typeof x === 'bigint' ? (negative ? -x : x) : Math.abs(x);
      if (o.style === 'percent' && typeof magnitude === 'number') magnitude *= 100;
      let integer;
      let fraction = '';
      if (typeof magnitude === 'bigint') {
        integer = magnitude.toString();
        fraction = '0'.repeat(o.minimumFractionDigits);
      } else if (Number.isNaN(magnitude)) {
        integer = 'NaN';
      } else if (magnitude === Infinity) {
        integer = '∞';
      } else {
        if (o.notation === 'compact') {
          // ICU4X rounds to the compact magnitude itself.
          const [whole, part] = toFixedParts(magnitude, 20);
          integer = whole;
          fraction = trimZeros(part, 0);
        } else if (o.significant) {
          [integer, fraction] = toPrecisionParts(magnitude, o.minimumSignificantDigits, o.maximumSignificantDigits);
        } else {
          [integer, fraction] = toFixedParts(magnitude, o.maximumFractionDigits);
          fraction = trimZeros(fraction, o.minimumFractionDigits);
        }
        integer = integer.padStart(o.minimumIntegerDigits, '0');
      }
      const isZero = /^0*$/.test(integer + fraction);
      let sign = '';
      if (o.signDisplay === 'always') sign = negative ? '-' : '+';
      else if (o.signDisplay === 'exceptZero') sign = isZero ? '' : negative ? '-' : '+';
      else if (o.signDisplay === 'negative') sign = negative && !isZero ? '-' : '';
      else if (o.signDisplay === 'auto') sign = negative ? '-' : '';
      if (integer === 'NaN' || integer === '∞') return this.#special(sign, integer);
      const strategy = o.useGrouping === 'always' ? 'always' : o.useGrouping === false ? 'never' : o.useGrouping === 'min2' ? 'min2' : 'auto';
      const digits = `${sign}${fraction === '' ? integer : `${integer}.${fraction}`}`;
      const style = o.notation === 'compact' ? 'compact' : o.style;
      const what = o.style === 'currency' ? o.currency : o.style === 'unit' && o.notation !== 'compact' ? o.unit : '';
      const display = o.notation === 'compact' ? (o.style === 'currency' ? `${o.compactDisplay} ${o.currencyDisplay}` : o.compactDisplay)
        : o.style === 'currency' ? o.currencyDisplay : o.unitDisplay;
      const located = host.intlNumber(o.locale, style, what, display, digits, strategy);
      if (located !== undefined) return located.map(([type, value]) => ({ type, value }));
      // A unit without CLDR names here: the number, then the English symbol.
      const parts = host.intlNumber(o.locale, 'decimal', '', '', digits, strategy).map(([type, value]) => ({ type, value }));
      const [text, joined] = unitText(o.unit, o.unitDisplay, integer === '1' && fraction === '');
      if (!joined) parts.push({ type: 'literal', value: ' ' });
      parts.push({ type: 'unit', value: text });
      return parts;
    }
    // NaN and ±∞ (ICU4X's decimals are finite): the sign and the symbol,
    // with the percent sign or currency code after them.
    #special(sign, integer) {
      const o = this.#o;
      const parts = [];
      if (sign !== '') parts.push({ type: sign === '-' ? 'minusSign' : 'plusSign', value: sign });
      parts.push(integer === 'NaN' ? { type: 'nan', value: 'NaN' } : { type: 'infinity', value: '∞' });
      if (o.style === 'percent') parts.push({ type: 'percentSign', value: '%' });
      if (o.style === 'currency') parts.push({ type: 'literal', value: '\u00a0' }, { type: 'currency', value: o.currency });
      return parts;
    }
    format(value) {
      return this.formatToParts(value).map((part) => part.value).join('');
    }
    resolvedOptions() {
      const o = this.#o;
      const out = { locale: o.locale, numberingSystem: 'latn', style: o.style };
      if (o.currency !== undefined) Object.assign(out, { currency: o.currency, currencyDisplay: o.currencyDisplay });
      Object.assign(out, {
        minimumIntegerDigits: o.minimumIntegerDigits,
        minimumFractionDigits: o.minimumFractionDigits,
        maximumFractionDigits: o.maximumFractionDigits,
      });
      if (o.significant) Object.assign(out, { minimumSignificantDigits: o.minimumSignificantDigits, maximumSignificantDigits: o.maximumSignificantDigits });
      Object.assign(out, { useGrouping: o.useGrouping, notation: o.notation, signDisplay: o.signDisplay });
      return out;
    }
    static supportedLocalesOf(locales) {
      return canonicalLocales(locales);
    }
    get [Symbol.toStringTag]() {
      return 'Intl.NumberFormat';
    }
  }
  // `format` is a bound getter in ECMA-402, so `arr.map(nf.format)` works.
  const numberFormatFormat = NumberFormat.prototype.format;
  Object.defineProperty(NumberFormat.prototype, 'format', {
    get() {
      return numberFormatFormat.bind(this);
    },
    configurable: true,
  });

  // ---- DateTimeFormat ------------------------------------------------------------

  function zoneName(zone) {
    const text = String(zone);
    if (/^(utc|gmt|etc\/utc|etc\/gmt|z|zulu|universal)$/i.test(text)) return 'UTC';
    const offset = /^([+-])(\d{2}):?(\d{2})$/.exec(text);
    if (offset) return `${offset[1]}${offset[2]}:${offset[3]}`;
    host.zoneOffset(text, 0); // throws RangeError for an unknown zone
    return text;
  }
  const dateStyles = {
    full: { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' },
    long: { year: 'numeric', month: 'long', day: 'numeric' },
    medium: { year: 'numeric', month: 'short', day: 'numeric' },
    short: { year: '2-digit', month: 'numeric', day: 'numeric' },
  };
  const timeStyles = {
    full: { hour: 'numeric', minute: '2-digit', second: '2-digit', timeZoneName: 'long' },
    long: { hour: 'numeric', minute: '2-digit', second: '2-digit', timeZoneName: 'short' },
    medium: { hour: 'numeric', minute: '2-digit', second: '2-digit' },
    short: { hour: 'numeric', minute: '2-digit' },
  };
  // The component options as a UTS 35 skeleton, ICU's form of the same bag.
  const skeletonLetters = {
    weekday: { long: 'EEEE', short: 'EEE', narrow: 'EEEEE' },
    era: { long: 'GGGG', short: 'G', narrow: 'GGGGG' },
    year: { numeric: 'y', '2-digit': 'yy' },
    month: { numeric: 'M', '2-digit': 'MM', short: 'MMM', long: 'MMMM', narrow: 'MMMMM' },
    day: { numeric: 'd', '2-digit': 'dd' },
    hour: { numeric: 'j', '2-digit': 'jj' },
    minute: { numeric: 'm', '2-digit': 'mm' },
    second: { numeric: 's', '2-digit': 'ss' },
    fractionalSecondDigits: { 1: 'S', 2: 'SS', 3: 'SSS' },
    timeZoneName: { short: 'z', long: 'zzzz', shortOffset: 'O', longOffset: 'OOOO', shortGeneric: 'v', longGeneric: 'vvvv' },
  };
  function skeletonOf(c) {
    let skeleton = '';
    for (const name of Object.keys(skeletonLetters)) if (c[name] !== undefined) skeleton += skeletonLetters[name][c[name]];
    return skeleton;
  }
  function epochOf(date) {
    const ms = date === undefined ? Date.now() : typeof date === 'number' ? date : Number(date instanceof Date ? date.getTime() : date);
    if (!Number.isFinite(ms)) throw new RangeError('Invalid time value');
    return ms;
  }
  const componentNames = ['weekday', 'era', 'year', 'month', 'day', 'dayPeriod', 'hour', 'minute', 'second', 'fractionalSecondDigits', 'timeZoneName'];

  class DateTimeFormat {
    #o;
    // `required` and `defaults` are ECMA-402's ToDateTimeOptions arguments;
    // only the Date.prototype.toLocale*String routes pass them.
    constructor(locales = undefined, options = undefined, required = 'any', defaults = 'date') {
      options = toOptions(options);
      const [locale, row] = resolveLocale(locales);
      const timeZone = options.timeZone === undefined ? 'UTC' : zoneName(options.timeZone);
      const dateStyle = getOption(options, 'dateStyle', ['full', 'long', 'medium', 'short'], undefined);
      const timeStyle = getOption(options, 'timeStyle', ['full', 'long', 'medium', 'short'], undefined);
      const o = { locale, row, timeZone, dateStyle, timeStyle };
      const c = {};
      c.weekday = getOption(options, 'weekday', ['long', 'short', 'narrow'], undefined);
      c.era = getOption(options, 'era', ['long', 'short', 'narrow'], undefined);
      c.year = getOption(options, 'year', ['numeric', '2-digit'], undefined);
      c.month = getOption(options, 'month', ['numeric', '2-digit', 'long', 'short', 'narrow'], undefined);
      c.day = getOption(options, 'day', ['numeric', '2-digit'], undefined);
      c.hour = getOption(options, 'hour', ['numeric', '2-digit'], undefined);
      c.minute = getOption(options, 'minute', ['numeric', '2-digit'], undefined);
      c.second = getOption(options, 'second', ['numeric', '2-digit'], undefined);
      c.fractionalSecondDigits = getNumberOption(options, 'fractionalSecondDigits', 1, 3, undefined);
      c.timeZoneName = getOption(options, 'timeZoneName', ['short', 'long', 'shortOffset', 'longOffset', 'shortGeneric', 'longGeneric'], undefined);
      const explicit = componentNames.some((name) => c[name] !== undefined);
      const dateGiven = ['weekday', 'year', 'month', 'day'].some((name) => c[name] !== undefined);
      const timeGiven = ['dayPeriod', 'hour', 'minute', 'second', 'fractionalSecondDigits'].some((name) => c[name] !== undefined);
      const needDefaults = required === 'date' ? !dateGiven : required === 'time' ? !timeGiven : !dateGiven && !timeGiven;
      if ((dateStyle !== undefined || timeStyle !== undefined) && explicit) {
        throw new TypeError(`Can't set option ${componentNames.find((name) => c[name] !== undefined)} when ${dateStyle !== undefined ? 'dateStyle' : 'timeStyle'} is used`);
      }
      if (dateStyle !== undefined) Object.assign(c, dateStyles[dateStyle]);
      if (timeStyle !== undefined) Object.assign(c, timeStyles[timeStyle]);
      if (needDefaults && dateStyle === undefined && timeStyle === undefined) {
        if (defaults === 'date' || defaults === 'all') Object.assign(c, { year: 'numeric', month: 'numeric', day: 'numeric' });
        if (defaults === 'time' || defaults === 'all') Object.assign(c, { hour: 'numeric', minute: 'numeric', second: 'numeric' });
      }
      let hour12 = options.hour12 === undefined ? undefined : Boolean(options.hour12);
      const hourCycle = getOption(options, 'hourCycle', ['h11', 'h12', 'h23', 'h24'], undefined);
      if (hour12 === undefined && hourCycle !== undefined) hour12 = hourCycle === 'h11' || hourCycle === 'h12';
      o.hour12Option = hour12;
      if (hour12 === undefined) hour12 = !row[3];
      o.hour12 = hour12;
      o.c = c;
      o.skeleton = skeletonOf(c);
      this.#o = o;
    }

    formatToParts(date = undefined) {
      const o = this.#o;
      const ms = epochOf(date);
      return host.intlDateTime(o.locale, o.skeleton, o.hour12Option, o.timeZone, ms).map(([type, value]) => ({ type, value }));
    }
    formatRange(startDate, endDate) {
      if (startDate === undefined || endDate === undefined) throw new TypeError('startDate or endDate is undefined');
      const o = this.#o;
      return host.intlDateTimeRange(o.locale, o.skeleton, o.hour12Option, o.timeZone, epochOf(startDate), epochOf(endDate));
    }
    format(date = undefined) {
      return this.formatToParts(date).map((part) => part.value).join('');
    }
    resolvedOptions() {
      const o = this.#o;
      const out = { locale: o.locale, calendar: 'gregory', numberingSystem: 'latn', timeZone: o.timeZone };
      if (o.c.hour !== undefined) Object.assign(out, { hourCycle: o.hour12 ? 'h12' : 'h23', hour12: o.hour12 });
      for (const name of componentNames) if (o.c[name] !== undefined && o.dateStyle === undefined && o.timeStyle === undefined) out[name] = o.c[name];
      if (o.dateStyle !== undefined) out.dateStyle = o.dateStyle;
      if (o.timeStyle !== undefined) out.timeStyle = o.timeStyle;
      return out;
    }
    static supportedLocalesOf(locales) {
      return canonicalLocales(locales);
    }
    get [Symbol.toStringTag]() {
      return 'Intl.DateTimeFormat';
    }
  }
  const dateTimeFormatFormat = DateTimeFormat.prototype.format;
  Object.defineProperty(DateTimeFormat.prototype, 'format', {
    get() {
      return dateTimeFormatFormat.bind(this);
    },
    configurable: true,
  });
  // Hide the internal third constructor parameter from `length`.
  Object.defineProperty(DateTimeFormat, 'length', { value: 0 });

  // ---- Collator ----------------------------------------------------------------
  // CLDR collation (ICU4X) for the resolved locale and options.
  class Collator {
    #o;
    constructor(locales = undefined, options = undefined) {
      options = toOptions(options);
      const [locale] = resolveLocale(locales);
      const usage = getOption(options, 'usage', ['sort', 'search'], 'sort');
      const sensitivity = getOption(options, 'sensitivity', ['base', 'accent', 'case', 'variant'], 'variant');
      const numeric = Boolean(options.numeric);
      const caseFirst = getOption(options, 'caseFirst', ['upper', 'lower', 'false'], 'false');
      const ignorePunctuation = Boolean(options.ignorePunctuation);
      this.#o = { locale, usage, sensitivity, numeric, caseFirst, ignorePunctuation };
    }
    compare(a, b) {
      const o = this.#o;
      return host.intlCompare(o.locale, [o.sensitivity, String(o.numeric), o.caseFirst, String(o.ignorePunctuation)], String(a), String(b));
    }
    resolvedOptions() {
      const o = this.#o;
      return { locale: o.locale, usage: o.usage, sensitivity: o.sensitivity, ignorePunctuation: o.ignorePunctuation, collation: 'default', numeric: o.numeric, caseFirst: o.caseFirst };
    }
    static supportedLocalesOf(locales) {
      return canonicalLocales(locales);
    }
    get [Symbol.toStringTag]() {
      return 'Intl.Collator';
    }
  }
  const collatorCompare = Collator.prototype.compare;
  Object.defineProperty(Collator.prototype, 'compare', {
    get() {
      return collatorCompare.bind(this);
    },
    configurable: true,
  });

  // ---- PluralRules, ListFormat, RelativeTimeFormat ------------------------------
  class PluralRules {
    #type;
    #locale;
    constructor(locales = undefined, options = undefined) {
      options = toOptions(options);
      this.#locale = resolveLocale(locales)[0];
      this.#type = getOption(options, 'type', ['cardinal', 'ordinal'], 'cardinal');
    }
    select(value) {
      const n = Math.abs(Number(value));
      if (!Number.isFinite(n)) return 'other';
      // As formatted with the default 0–3 fraction digits: 1.0 is "1".
      const [integer, fraction] = toFixedParts(n, 3);
      const trimmed = trimZeros(fraction, 0);
      return host.intlPlural(this.#locale, this.#type, trimmed === '' ? integer : `${integer}.${trimmed}`);
    }
    resolvedOptions() {
      // Node 20 lists the categories alphabetically.
      return { locale: this.#locale, type: this.#type, pluralCategories: host.intlPluralCategories(this.#locale, this.#type).sort() };
    }
    static supportedLocalesOf(locales) {
      return canonicalLocales(locales);
    }
    get [Symbol.toStringTag]() {
      return 'Intl.PluralRules';
    }
  }

  class ListFormat {
    #locale;
    #type;
    #style;
    constructor(locales = undefined, options = undefined) {
      options = toOptions(options);
      this.#locale = resolveLocale(locales)[0];
      this.#type = getOption(options, 'type', ['conjunction', 'disjunction', 'unit'], 'conjunction');
      this.#style = getOption(options, 'style', ['long', 'short', 'narrow'], 'long');
    }
    formatToParts(list) {
      const items = [...list].map((item) => {
        if (typeof item !== 'string') throw new TypeError(`Iterable yielded ${String(item)} which is not a string`);
        return item;
      });
      return host.intlList(this.#locale, this.#type, this.#style, items).map(([type, value]) => ({ type, value }));
    }
    format(list) {
      return this.formatToParts(list).map((part) => part.value).join('');
    }
    resolvedOptions() {
      return { locale: this.#locale, type: this.#type, style: this.#style };
    }
    get [Symbol.toStringTag]() {
      return 'Intl.ListFormat';
    }
  }

  const relativeUnits = ['year', 'quarter', 'month', 'week', 'day', 'hour', 'minute', 'second'];
  class RelativeTimeFormat {
    #locale;
    #style;
    #numeric;
    constructor(locales = undefined, options = undefined) {
      options = toOptions(options);
      this.#locale = resolveLocale(locales)[0];
      this.#style = getOption(options, 'style', ['long', 'short', 'narrow'], 'long');
      this.#numeric = getOption(options, 'numeric', ['always', 'auto'], 'always');
    }
    formatToParts(value, unit) {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new RangeError('Invalid value');
      const singular = String(unit).replace(/s$/, '');
      if (!relativeUnits.includes(singular)) throw new RangeError(`Invalid unit argument for format() '${unit}'`);
      // The number as NumberFormat's defaults write it (0–3 fraction digits);
      // -0 is "0 days ago", or "today" with numeric: 'auto', as in V8.
      const [integer, fraction] = toFixedParts(Math.abs(n), 3);
      const trimmed = trimZeros(fraction, 0);
      const sign = n < 0 || (Object.is(n, -0) && this.#numeric === 'always') ? '-' : '';
      const digits = `${sign}${trimmed === '' ? integer : `${integer}.${trimmed}`}`;
      return host.intlRelativeTime(this.#locale, singular, this.#style, this.#numeric, digits)
        .map(([type, text]) => (type === 'literal' ? { type, value: text } : { type, value: text, unit: singular }));
    }
    format(value, unit) {
      return this.formatToParts(value, unit).map((part) => part.value).join('');
    }
    resolvedOptions() {
      return { locale: this.#locale, style: this.#style, numeric: this.#numeric, numberingSystem: 'latn' };
    }
    static supportedLocalesOf(locales) {
      return canonicalLocales(locales);
    }
    get [Symbol.toStringTag]() {
      return 'Intl.RelativeTimeFormat';
    }
  }

  // Segments as ECMA-402 gives them: iterable, with `containing(index)`.
  class Segments {
    #list;
    #input;
    #word;
    constructor(list, input, word) {
      this.#list = list;
      this.#input = input;
      this.#word = word;
    }
    #record([segment, index, wordLike]) {
      const record = { segment, index, input: this.#input };
      if (this.#word) record.isWordLike = wordLike;
      return record;
    }
    containing(index = 0) {
      const at = Math.trunc(Number(index)) || 0;
      if (at < 0 || at >= this.#input.length) return undefined;
      const found = this.#list.findLast((entry) => entry[1] <= at);
      return found === undefined ? undefined : this.#record(found);
    }
    *[Symbol.iterator]() {
      for (const entry of this.#list) yield this.#record(entry);
    }
  }

  class Segmenter {
    #locale;
    #granularity;
    constructor(locales = undefined, options = undefined) {
      options = toOptions(options);
      this.#locale = resolveLocale(locales)[0];
      this.#granularity = getOption(options, 'granularity', ['grapheme', 'word', 'sentence'], 'grapheme');
    }
    segment(input) {
      const text = String(input);
      return new Segments(host.intlSegment(this.#granularity, text), text, this.#granularity === 'word');
    }
    resolvedOptions() {
      return { locale: this.#locale, granularity: this.#granularity };
    }
    static supportedLocalesOf(locales) {
      return canonicalLocales(locales);
    }
    get [Symbol.toStringTag]() {
      return 'Intl.Segmenter';
    }
  }

  const Intl = {
    NumberFormat: callable(NumberFormat),
    DateTimeFormat: callable(DateTimeFormat),
    Collator: callable(Collator),
    PluralRules,
    ListFormat,
    RelativeTimeFormat,
    Segmenter,
    getCanonicalLocales: canonicalLocales,
  };
  for (const key of Object.keys(Intl)) Object.defineProperty(Intl, key, { enumerable: false });
  Object.defineProperty(Intl, Symbol.toStringTag, { value: 'Intl', configurable: true });

  // ---- the locale-sensitive built-ins the bootstrap routes here -----------------
  function thisNumber(value, name) {
    if (typeof value === 'number') return value;
    try {
      return Number.prototype.valueOf.call(value);
    } catch {
      throw new TypeError(`Number.prototype.${name} requires that 'this' be a Number`);
    }
  }
  function thisTime(value, name) {
    try {
      return Date.prototype.getTime.call(value);
    } catch {
      throw new TypeError(`this is not a Date object.`);
    }
  }
  for (const klass of [NumberFormat, DateTimeFormat, Collator, PluralRules, ListFormat, RelativeTimeFormat, Segmenter]) host.classes.add(klass);
  return {
    Intl,
    numberToLocaleString(self, locales, options) {
      return new NumberFormat(locales, options).format(thisNumber(self, 'toLocaleString'));
    },
    bigintToLocaleString(self, locales, options) {
      return new NumberFormat(locales, options).format(BigInt.prototype.valueOf.call(self));
    },
    dateToLocaleString(self, locales, options) {
      const time = thisTime(self);
      return Number.isNaN(time) ? 'Invalid Date' : new DateTimeFormat(locales, options, 'any', 'all').format(time);
    },
    dateToLocaleDateString(self, locales, options) {
      const time = thisTime(self);
      return Number.isNaN(time) ? 'Invalid Date' : new DateTimeFormat(locales, options, 'date', 'date').format(time);
    },
    dateToLocaleTimeString(self, locales, options) {
      const time = thisTime(self);
      return Number.isNaN(time) ? 'Invalid Date' : new DateTimeFormat(locales, options, 'time', 'time').format(time);
    },
    localeCompare(self, that, locales, options) {
      if (self === null || self === undefined) throw new TypeError('String.prototype.localeCompare called on null or undefined');
      return new Collator(locales, options).compare(String(self), String(that));
    },
  };
}
