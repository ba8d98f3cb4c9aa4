/* fuzz_stanza_parse.c - libFuzzer target for stanza_parse (stored stanzas,
 * src/xml/parser.c) and the tree operations of src/xml/stanza.c: whatever
 * parses must round-trip through the serialiser byte for byte. */
#include <stddef.h>
#include <stdint.h>

#include "aldis/xml.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stanza *st = stanza_parse((const char *)data, size);
    if (!st)
        return 0;
    fuzz_stanza_exercise(st);
    /* building on a parsed tree: add, set, remove */
    struct xml_node *x = xml_add_child(st, st->root, "x", "urn:fuzz");
    xml_set_attr(st, x, "a", "\"'<&>\t\r\n");
    xml_set_attr_ns(st, x, NS_XML, "lang", "en");
    xml_add_text(st, x, "t &<>]]>\r\n", 10);
    if (st->root->children && st->root->children != x)
        xml_remove(st->root->children);
    fuzz_stanza_exercise(st);
    stanza_unref(st);
    return 0;
}
