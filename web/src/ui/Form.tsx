// XEP-0004 data forms: fields rendered by type, XEP-0122 validation shown
// next to each field before submitting, XEP-0141 pages and sections when
// the form has a layout (one page at a time, with Next/Back).
import { useEffect, useRef, useState } from 'preact/hooks';
import type { FormDialog } from '../state/store';
import { fieldValidate, formValidate, type DataForm, type Field, type LayoutNode } from '../xmpp/forms';

type Values = Record<string, string[]>;

function FieldView({ f, values, set, error }: { f: Field; values: Values; set: (v: string[]) => void; error?: string }) {
  const id = 'f-' + f.var.replace(/[^a-zA-Z0-9_-]/g, '_');
  const v = values[f.var] ?? f.values;
  const label = f.label || f.var;
  const desc = f.desc ? <small id={id + '-d'}>{f.desc}</small> : null;
  const err = error ? <small class="error" id={id + '-e'} role="alert">{label} {error}</small> : null;
  const aria = { 'aria-invalid': error ? true : undefined, 'aria-describedby': error ? id + '-e' : f.desc ? id + '-d' : undefined, 'aria-required': f.required || undefined };
  switch (f.type) {
    case 'hidden': return null;
    case 'fixed': return <p class="fixed">{v.join('\n')}</p>;
    case 'boolean':
      return <div class="field"><label class="check"><input id={id} type="checkbox" checked={v[0] === '1' || v[0] === 'true'}
        onChange={(e) => set([(e.target as HTMLInputElement).checked ? '1' : '0'])} {...aria} /> {label}</label>{desc}{err}</div>;
    case 'list-single':
      return <div class="field"><label for={id}>{label}{f.required && ' *'}</label>
        <select id={id} value={v[0] || ''} onChange={(e) => set([(e.target as HTMLSelectElement).value])} {...aria}>
          {!f.required && <option value="">—</option>}
          {f.options.map((o) => <option key={o.value} value={o.value}>{o.label || o.value}</option>)}
        </select>{desc}{err}</div>;
    case 'list-multi':
      return <fieldset class="field"><legend>{label}{f.required && ' *'}</legend>
        {f.options.map((o) => <label class="check" key={o.value}><input type="checkbox" checked={v.includes(o.value)}
          onChange={(e) => set((e.target as HTMLInputElement).checked ? [...v, o.value] : v.filter((x) => x !== o.value))} /> {o.label || o.value}</label>)}
        {desc}{err}</fieldset>;
    case 'text-multi':
    case 'jid-multi':
      return <div class="field"><label for={id}>{label}{f.required && ' *'}</label>
        <textarea id={id} rows={3} value={v.join('\n')} onInput={(e) => set((e.target as HTMLTextAreaElement).value.split('\n'))} {...aria} />{desc}{err}</div>;
    default: {
      const dt = f.validate?.datatype || '';
      const type = f.type === 'text-private' ? 'password' : /int|long|short|byte|decimal|double/.test(dt) ? 'number' : dt === 'xs:date' ? 'date' : 'text';
      return <div class="field"><label for={id}>{label}{f.required && ' *'}</label>
        <input id={id} type={type} value={v[0] || ''} min={f.validate?.min} max={f.validate?.max}
          onInput={(e) => set([(e.target as HTMLInputElement).value])} {...aria} />{desc}{err}</div>;
    }
  }
}

function Layout({ nodes, form, values, set, errors }: { nodes: LayoutNode[]; form: DataForm; values: Values; set: (k: string, v: string[]) => void; errors: Record<string, string> }) {
  return <>{nodes.map((n, i) => {
    if (n.kind === 'text') return <p key={i}>{n.text}</p>;
    if (n.kind === 'section') return <fieldset key={i} class="section"><legend>{n.label}</legend><Layout nodes={n.children} form={form} values={values} set={set} errors={errors} /></fieldset>;
    if (n.kind === 'field') {
      const f = form.fields.find((x) => x.var === n.var);
      return f ? <FieldView key={i} f={f} values={values} set={(v) => set(f.var, v)} error={errors[f.var]} /> : null;
    }
    return null;
  })}</>;
}

function FormBody({ form, onSubmit, onCancel, submitLabel }: { form: DataForm; onSubmit: (v: Values) => void; onCancel?: () => void; submitLabel?: string }) {
  const [values, setValues] = useState<Values>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [page, setPage] = useState(0);
  const set = (k: string, v: string[]) => {
    setValues({ ...values, [k]: v });
    const f = form.fields.find((x) => x.var === k);
    if (f && errors[k]) {
      const why = fieldValidate(f, v);
      const next = { ...errors };
      if (why) next[k] = why; else delete next[k];
      setErrors(next);
    }
  };
  const submit = (e: Event) => {
    e.preventDefault();
    const errs = formValidate(form, values);
    setErrors(errs);
    if (Object.keys(errs).length === 0) onSubmit(values);
  };
  const pages = form.pages;
  const readOnly = form.type === 'result';
  return (
    <form class="dataform" onSubmit={submit} noValidate>
      {form.instructions.map((t, i) => <p key={i} class="instructions">{t}</p>)}
      {pages.length > 0 ? (
        <>
          <h3>{pages[page].label}</h3>
          <Layout nodes={pages[page].children} form={form} values={values} set={set} errors={errors} />
          {Object.keys(errors).length > 0 && <p class="error" role="alert">Some fields need attention.</p>}
        </>
      ) : form.fields.map((f) => <FieldView key={f.var || f.label} f={f} values={values} set={(v) => set(f.var, v)} error={errors[f.var]} />)}
      {form.reported.length > 0 && (
        <table class="reported"><thead><tr>{form.reported.map((r) => <th key={r.var}>{r.label || r.var}</th>)}</tr></thead>
          <tbody>{form.items.map((it, i) => <tr key={i}>{form.reported.map((r) => <td key={r.var}>{(it[r.var] || []).join(', ')}</td>)}</tr>)}</tbody></table>
      )}
      <div class="form-actions">
        {pages.length > 1 && page > 0 && <button type="button" onClick={() => setPage(page - 1)}>Back</button>}
        {pages.length > 1 && page < pages.length - 1 && <button type="button" onClick={() => setPage(page + 1)}>Next</button>}
        {onCancel && <button type="button" onClick={onCancel}>{readOnly ? 'Close' : 'Cancel'}</button>}
        {!readOnly && (pages.length <= 1 || page === pages.length - 1) && <button type="submit" class="primary" data-testid="form-submit">{submitLabel || 'Submit'}</button>}
      </div>
    </form>
  );
}

export function FormDialogView({ dialog }: { dialog: FormDialog }) {
  // Focus moves into the dialog, and back where it was when it closes.
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    ref.current?.querySelector<HTMLElement>('input, select, textarea, button')?.focus();
    return () => before?.focus();
  }, [dialog.id]);
  return (
    <div class="dialog-backdrop">
      <div class="dialog" ref={ref} role="dialog" aria-modal="true" aria-labelledby="dlg-title" data-testid="form-dialog"
        onKeyDown={(e) => { if (e.key === 'Escape') dialog.submit(null); }}>
        <h2 id="dlg-title">{dialog.title}</h2>
        <FormBody form={dialog.form} onSubmit={(v) => dialog.submit(v)} onCancel={() => dialog.submit(null)} />
      </div>
    </div>
  );
}

export function FormInline({ form, onSubmit }: { form: DataForm; onSubmit: (v: Values) => void }) {
  const [sent, setSent] = useState(false);
  if (sent) return <p class="muted">Form sent.</p>;
  return <div class="inline-dataform">{form.title && <h3>{form.title}</h3>}<FormBody form={form} onSubmit={(v) => { onSubmit(v); setSent(true); }} /></div>;
}
