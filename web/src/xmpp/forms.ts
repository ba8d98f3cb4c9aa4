// XEP-0004 data forms, with XEP-0122 validation and XEP-0141 layout: parse a
// received <x xmlns='jabber:x:data'/>, validate user input, build the
// submission. Used for room configuration, ad-hoc commands and forms that
// arrive in messages.
import { NS } from './ns';
import { attr, child, childText, children, el, text } from './xml';

export type FieldType =
  | 'boolean' | 'fixed' | 'hidden' | 'jid-multi' | 'jid-single' | 'list-multi'
  | 'list-single' | 'text-multi' | 'text-private' | 'text-single';

export interface Validation {
  datatype: string; // XEP-0122 §3: xs:string by default
  method: 'basic' | 'open' | 'range' | 'regex' | 'list-range';
  min?: string;
  max?: string;
  regex?: string;
  listMin?: number;
  listMax?: number;
}

export interface Field {
  var: string;
  type: FieldType;
  label: string;
  desc: string;
  required: boolean;
  values: string[];
  options: { label: string; value: string }[];
  validate: Validation | null;
}

export type LayoutNode =
  | { kind: 'text'; text: string }
  | { kind: 'field'; var: string }
  | { kind: 'section'; label: string; children: LayoutNode[] }
  | { kind: 'reported' };

export interface Page {
  label: string;
  children: LayoutNode[];
}

export interface DataForm {
  type: 'form' | 'submit' | 'cancel' | 'result';
  title: string;
  instructions: string[];
  fields: Field[];
  pages: Page[]; // XEP-0141; empty when the form has no layout
  reported: Field[];
  items: Record<string, string[]>[];
}

const MAX_FIELDS = 500;
const MAX_VALUES = 500;
const MAX_OPTIONS = 1000;
const MAX_DEPTH = 8;
const TYPES = new Set<string>([
  'boolean', 'fixed', 'hidden', 'jid-multi', 'jid-single', 'list-multi',
  'list-single', 'text-multi', 'text-private', 'text-single',
]);

function fieldParse(f: Element): Field {
  const t = attr(f, 'type') || 'text-single';
  const v = child(f, 'validate', NS.XDATA_VALIDATE);
  let validate: Validation | null = null;
  if (v) {
    validate = { datatype: attr(v, 'datatype') || 'xs:string', method: 'basic' };
    const range = child(v, 'range');
    const regex = child(v, 'regex');
    const listRange = child(v, 'list-range');
    if (range) {
      validate.method = 'range';
      validate.min = attr(range, 'min') ?? undefined;
      validate.max = attr(range, 'max') ?? undefined;
    } else if (regex) {
      validate.method = 'regex';
      validate.regex = text(regex);
    } else if (child(v, 'open')) {
      validate.method = 'open';
    }
    if (listRange) {
      validate.listMin = Number(attr(listRange, 'min') ?? 0);
      validate.listMax = Number(attr(listRange, 'max') ?? MAX_VALUES);
    }
  }
  return {
    var: attr(f, 'var') || '',
    type: (TYPES.has(t) ? t : 'text-single') as FieldType,
    label: attr(f, 'label') || '',
    desc: childText(f, 'desc') || '',
    required: !!child(f, 'required'),
    values: children(f, 'value').slice(0, MAX_VALUES).map(text),
    options: children(f, 'option').slice(0, MAX_OPTIONS).map((o) => ({
      label: attr(o, 'label') || childText(o, 'value') || '',
      value: childText(o, 'value') || '',
    })),
    validate,
  };
}

function layoutParse(e: Element, depth: number): LayoutNode[] {
  if (depth > MAX_DEPTH) return [];
  const out: LayoutNode[] = [];
  for (const c of children(e).slice(0, MAX_FIELDS)) {
    switch (c.localName || c.nodeName) {
      case 'text': out.push({ kind: 'text', text: text(c) }); break;
      case 'fieldref': out.push({ kind: 'field', var: attr(c, 'var') || '' }); break;
      case 'reportedref': out.push({ kind: 'reported' }); break;
      case 'section':
        out.push({ kind: 'section', label: attr(c, 'label') || '', children: layoutParse(c, depth + 1) });
        break;
    }
  }
  return out;
}

export function formParse(x: Element | null): DataForm | null {
  if (!x) return null;
  const t = attr(x, 'type') || 'form';
  const reportedEl = child(x, 'reported');
  return {
    type: (['form', 'submit', 'cancel', 'result'].includes(t) ? t : 'form') as DataForm['type'],
    title: childText(x, 'title') || '',
    instructions: children(x, 'instructions').slice(0, 20).map(text),
    fields: children(x, 'field').slice(0, MAX_FIELDS).map(fieldParse),
    pages: children(x, 'page', NS.XDATA_LAYOUT).slice(0, 50).map((p) => ({
      label: attr(p, 'label') || '',
      children: layoutParse(p, 0),
    })),
    reported: reportedEl ? children(reportedEl, 'field').slice(0, 100).map(fieldParse) : [],
    items: children(x, 'item').slice(0, MAX_FIELDS).map((it) => {
      const row: Record<string, string[]> = {};
      for (const f of children(it, 'field').slice(0, 100)) row[attr(f, 'var') || ''] = children(f, 'value').map(text);
      return row;
    }),
  };
}

// The form type (XEP-0068 FORM_TYPE) or '' when absent.
export function formType(f: DataForm): string {
  const ft = f.fields.find((x) => x.var === 'FORM_TYPE');
  return ft && ft.values[0] ? ft.values[0] : '';
}

const INT_RANGES: Record<string, [number, number]> = {
  'xs:byte': [-128, 127], 'xs:short': [-32768, 32767], 'xs:int': [-2147483648, 2147483647],
  'xs:integer': [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  'xs:long': [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

function checkDatatype(dt: string, v: string): string | null {
  if (dt in INT_RANGES) {
    if (!/^[+-]?\d+$/.test(v)) return 'must be a whole number';
    const n = Number(v);
    const [lo, hi] = INT_RANGES[dt];
    if (n < lo || n > hi) return 'is out of range';
  } else if (dt === 'xs:decimal' || dt === 'xs:double') {
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v)) return 'must be a number';
  } else if (dt === 'xs:boolean') {
    if (!['true', 'false', '0', '1'].includes(v)) return 'must be true or false';
  } else if (dt === 'xs:date') {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) return 'must be a date (YYYY-MM-DD)';
  } else if (dt === 'xs:dateTime') {
    if (Number.isNaN(Date.parse(v))) return 'must be a date and time';
  } else if (dt === 'xs:anyURI') {
    try { new URL(v); } catch { return 'must be a URL'; }
  }
  return null;
}

function compare(dt: string, a: string, b: string): number {
  if (dt in INT_RANGES || dt === 'xs:decimal' || dt === 'xs:double') return Number(a) - Number(b);
  if (dt === 'xs:date' || dt === 'xs:dateTime') return Date.parse(a) - Date.parse(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

// Why `values` is not acceptable for `f`, or null when it is
// (XEP-0004 §3.3 required, XEP-0122 §3 datatypes and methods).
export function fieldValidate(f: Field, values: string[]): string | null {
  const vs = values.filter((v) => v !== '');
  if (f.required && vs.length === 0 && f.type !== 'boolean' && f.type !== 'fixed') return 'is required';
  if (f.type === 'jid-single' || f.type === 'jid-multi') {
    for (const v of vs) if (!/^([^@/\s]+@)?[^@/\s]+(\/.*)?$/.test(v)) return `"${v}" is not a JID`;
  }
  if ((f.type === 'list-single' || f.type === 'list-multi') && f.options.length > 0 &&
      !(f.validate && f.validate.method === 'open')) {
    for (const v of vs) if (!f.options.some((o) => o.value === v)) return `"${v}" is not an option`;
  }
  const val = f.validate;
  if (!val) return null;
  if (val.listMin !== undefined && vs.length < val.listMin) return `needs at least ${val.listMin} values`;
  if (val.listMax !== undefined && vs.length > val.listMax) return `takes at most ${val.listMax} values`;
  for (const v of vs) {
    const bad = checkDatatype(val.datatype, v);
    if (bad) return bad;
    if (val.method === 'range') {
      if (val.min !== undefined && compare(val.datatype, v, val.min) < 0) return `must be at least ${val.min}`;
      if (val.max !== undefined && compare(val.datatype, v, val.max) > 0) return `must be at most ${val.max}`;
    } else if (val.method === 'regex' && val.regex) {
      let re: RegExp | null = null;
      try { re = new RegExp('^(?:' + val.regex + ')$'); } catch { re = null; }
      if (re && !re.test(v)) return 'has the wrong format';
    }
  }
  return null;
}

// All problems of a filled form: var -> message.
export function formValidate(f: DataForm, values: Record<string, string[]>): Record<string, string> {
  const errs: Record<string, string> = {};
  for (const fd of f.fields) {
    if (!fd.var || fd.type === 'fixed' || fd.type === 'hidden') continue;
    const why = fieldValidate(fd, values[fd.var] ?? fd.values);
    if (why) errs[fd.var] = why;
  }
  return errs;
}

// <x type='submit'/>: hidden fields echoed, the rest from `values`.
export function formSubmit(f: DataForm, values: Record<string, string[]>): Element {
  const fields = f.fields
    .filter((fd) => fd.var && fd.type !== 'fixed')
    .map((fd) => {
      const vs = fd.type === 'hidden' ? fd.values : (values[fd.var] ?? fd.values);
      return el('field', { var: fd.var }, vs.map((v) => el('value', {}, v)));
    });
  return el('x', { xmlns: NS.DATA, type: 'submit' }, fields);
}

// A simple submit form from var -> values (MAM queries, publish-options).
export function formBuild(formTypeValue: string, values: Record<string, string | string[]>): Element {
  const fields = [el('field', { var: 'FORM_TYPE', type: 'hidden' }, el('value', {}, formTypeValue))];
  for (const [k, v] of Object.entries(values)) {
    const list = Array.isArray(v) ? v : [v];
    fields.push(el('field', { var: k }, list.map((x) => el('value', {}, x))));
  }
  return el('x', { xmlns: NS.DATA, type: 'submit' }, fields);
}
