/* events — reporting through struct search_events (search_impl.h). */
#include "search/search.h"
#include "search/search_impl.h"

void
sev_warn(const struct search_events *ev, const char *what, const char *msg)
{
	if (ev && ev->warn)
		ev->warn(ev->ctx, what, msg);
}

int
sev_cancelled(const struct search_events *ev)
{
	return ev && ev->cancel && *ev->cancel;
}
