// Unit tests: XEP-0258 catalogs, labels echoed unchanged, colour filtering.
import { describe, expect, it } from 'vitest';
import { catalogDefault, catalogParse, labelElement, labelParse, safeColour } from './labels';
import { child, serialize, xmlParse } from './xml';

const CATALOG = `<iq type='result'><catalog xmlns='urn:xmpp:sec-label:catalog:2' to='b@x' name='Example' desc='d' restrict='true'>
  <item selector='Classification|UNCLASSIFIED'><securitylabel xmlns='urn:xmpp:sec-label:0'><displaymarking fgcolor='black' bgcolor='#00ff00'>UNCLASSIFIED</displaymarking><label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQ==</esssecuritylabel></label></securitylabel></item>
  <item selector='Classification|SECRET' default='true'><securitylabel xmlns='urn:xmpp:sec-label:0'><displaymarking fgcolor='white' bgcolor='red'>SECRET</displaymarking><label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>Mg==</esssecuritylabel></label></securitylabel></item>
  <item/></catalog></iq>`;

describe('XEP-0258 catalog', () => {
  it('parses items, the default and restrict', () => {
    const c = catalogParse(xmlParse(CATALOG))!;
    expect(c.name).toBe('Example');
    expect(c.restrict).toBe(true);
    expect(c.items.map((i) => i.selector)).toEqual(['Classification|UNCLASSIFIED', 'Classification|SECRET']);
    expect(catalogDefault(c)!.selector).toBe('Classification|SECRET');
    expect(c.items[0].label!.marking).toEqual({ text: 'UNCLASSIFIED', fg: 'black', bg: '#00ff00' });
  });

  it('sends the label element back unchanged', () => {
    const c = catalogParse(xmlParse(CATALOG))!;
    const e = labelElement(c.items[1].label!);
    const again = labelParse(e)!;
    expect(again.marking!.text).toBe('SECRET');
    expect(serialize(e)).toContain('Mg==');
  });

  it('without a default and not restricted, preselects nothing', () => {
    const c = catalogParse(xmlParse(CATALOG.replace(" default='true'", '').replace("restrict='true'", "restrict='false'")))!;
    expect(catalogDefault(c)).toBeNull();
    expect(catalogParse(xmlParse(`<iq type='result'/>`))).toBeNull();
  });

  it('refuses colours that could inject CSS', () => {
    expect(safeColour('red', 'x')).toBe('red');
    expect(safeColour('#abc', 'x')).toBe('#abc');
    expect(safeColour('red;background:url(http://e)', 'x')).toBe('x');
    expect(safeColour(null, 'x')).toBe('x');
    const l = labelParse(child(xmlParse(`<m><securitylabel xmlns='urn:xmpp:sec-label:0'><displaymarking fgcolor='expression(1)' bgcolor='blue'>X</displaymarking></securitylabel></m>`), 'securitylabel'))!;
    expect(l.marking).toEqual({ text: 'X', fg: 'black', bg: 'blue' });
  });
});
