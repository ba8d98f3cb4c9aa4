// Unit tests: XEP-0004 parsing, XEP-0122 validation, XEP-0141 layout, submission.
import { describe, expect, it } from 'vitest';
import { fieldValidate, formParse, formSubmit, formType, formValidate } from './forms';
import { serialize, xmlParse } from './xml';

const FORM = `<x xmlns='jabber:x:data' type='form'><title>Report</title><instructions>Fill in</instructions>
  <field var='FORM_TYPE' type='hidden'><value>urn:example:report</value></field>
  <field var='count' type='text-single' label='Count'><required/>
    <validate xmlns='http://jabber.org/protocol/xdata-validate' datatype='xs:integer'><range min='1' max='10'/></validate></field>
  <field var='callsign' type='text-single'><validate xmlns='http://jabber.org/protocol/xdata-validate' datatype='xs:string'><regex>[A-Z]{2}[0-9]</regex></validate></field>
  <field var='kind' type='list-single'><option label='Alpha'><value>a</value></option><option><value>b</value></option></field>
  <field var='tags' type='list-multi'><validate xmlns='http://jabber.org/protocol/xdata-validate'><list-range min='1' max='2'/></validate>
    <option><value>x</value></option><option><value>y</value></option><option><value>z</value></option></field>
  <field var='ok' type='boolean'><value>1</value></field>
  <field type='fixed'><value>Note</value></field>
  <page xmlns='http://jabber.org/protocol/xdata-layout' label='One'><text>First page</text><fieldref var='count'/>
    <section label='More'><fieldref var='callsign'/></section></page>
  <page xmlns='http://jabber.org/protocol/xdata-layout' label='Two'><fieldref var='kind'/><fieldref var='tags'/></page></x>`;

describe('XEP-0004 forms', () => {
  const f = formParse(xmlParse(FORM))!;

  it('parses fields, options, validation and layout', () => {
    expect(f.title).toBe('Report');
    expect(formType(f)).toBe('urn:example:report');
    expect(f.fields.find((x) => x.var === 'count')).toMatchObject({ required: true, validate: { datatype: 'xs:integer', method: 'range', min: '1', max: '10' } });
    expect(f.fields.find((x) => x.var === 'kind')!.options).toEqual([{ label: 'Alpha', value: 'a' }, { label: 'b', value: 'b' }]);
    expect(f.pages.map((p) => p.label)).toEqual(['One', 'Two']);
    expect(f.pages[0].children).toEqual([{ kind: 'text', text: 'First page' }, { kind: 'field', var: 'count' },
      { kind: 'section', label: 'More', children: [{ kind: 'field', var: 'callsign' }] }]);
  });

  it('validates per XEP-0122', () => {
    const count = f.fields.find((x) => x.var === 'count')!;
    expect(fieldValidate(count, [])).toBe('is required');
    expect(fieldValidate(count, ['abc'])).toBe('must be a whole number');
    expect(fieldValidate(count, ['11'])).toBe('must be at most 10');
    expect(fieldValidate(count, ['5'])).toBeNull();
    const cs = f.fields.find((x) => x.var === 'callsign')!;
    expect(fieldValidate(cs, ['AB1'])).toBeNull();
    expect(fieldValidate(cs, ['AB12'])).toBe('has the wrong format');
    const tags = f.fields.find((x) => x.var === 'tags')!;
    expect(fieldValidate(tags, ['x', 'y', 'z'])).toBe('takes at most 2 values');
    expect(fieldValidate(tags, ['q'])).toBe('"q" is not an option');
    expect(formValidate(f, { count: ['3'], tags: ['x'] })).toEqual({});
  });

  it('submits hidden fields unchanged and skips fixed ones', () => {
    const x = serialize(formSubmit(f, { count: ['3'], FORM_TYPE: ['forged'] }));
    expect(x).toContain('type="submit"');
    expect(x).toContain('<value>urn:example:report</value>');
    expect(x).not.toContain('forged');
    expect(x).not.toContain('Note');
    expect(x).toContain('<field var="count"><value>3</value></field>');
  });
});
