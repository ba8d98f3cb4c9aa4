/* config_template.h - the commented aldis.yaml that `aldisctl init` writes. */
#ifndef ALDIS_CORE_CONFIG_TEMPLATE_H
#define ALDIS_CORE_CONFIG_TEMPLATE_H

/* Index of each listener in the ports[] argument. */
enum config_port {
    CONFIG_PORT_C2S,
    CONFIG_PORT_C2S_TLS,
    CONFIG_PORT_S2S,
    CONFIG_PORT_HTTP,
    CONFIG_PORT_HTTPS,
    CONFIG_PORT_COMPONENT,
    CONFIG_PORT_COUNT
};

/* The default port of each listener (5222, 5223, 5269, 5280, 5281, 5347). */
extern const int config_default_ports[CONFIG_PORT_COUNT];

/* A complete, commented configuration for one host `domain` (already
 * validated) with the given listener ports (0 disables one). Optional keys
 * appear commented out with their defaults, so the file documents itself.
 * module_names (NULL-terminated, may be NULL) are the compiled-in modules,
 * listed in a comment. Returns a malloc'd string; the caller frees it. */
char *config_template(const char *domain, const int ports[CONFIG_PORT_COUNT],
                      const char *const *module_names);

#endif
