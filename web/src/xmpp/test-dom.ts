// Unit tests run under Node: give the XML toolkit xmldom's DOM.
import { DOMImplementation, DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { xmlSetDom } from './xml';

const doc = new DOMImplementation().createDocument('jabber:client', 'x', null);
xmlSetDom(doc as unknown as Document, new DOMParser(), new XMLSerializer());
