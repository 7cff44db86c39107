/* USB port paths ("1-1.10") as people expect to see them ordered. */
#ifndef RP_UTIL_PORT_PATH_H
#define RP_UTIL_PORT_PATH_H

/* Natural order: digit runs compare as numbers, so "1-1.2" sorts before
 * "1-1.10" and a tray reads top to bottom in port order. strcmp-like. */
int rp_port_path_cmp(const char *a, const char *b);

#endif
