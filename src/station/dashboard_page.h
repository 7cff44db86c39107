/* The dashboard page (dashboard.html), compiled in: no file to install,
 * nothing fetched from elsewhere. */
#ifndef RP_STATION_DASHBOARD_PAGE_H
#define RP_STATION_DASHBOARD_PAGE_H

#include <stddef.h>

extern const char rp_dashboard_html[];
extern const size_t rp_dashboard_html_len;

#endif
