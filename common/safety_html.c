/*
 * safety_html.c - the safety report as one self-contained HTML file
 * (safety.h): its style inline, two inline SVG charts (cumulative
 * enrollment by site; the share of each column's safety population
 * with any, serious and related TEAEs, by site or by arm), then every
 * table. No script, no external asset: a Content-Security-Policy that
 * allows nothing else makes sure it opens offline and stays inert, and
 * every value is escaped (out.h).
 */
#include <stdio.h>
#include <string.h>

#include "safety_int.h"

/* Line colours of the sites, and the three bar series. */
static const char *const palette[] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define NPAL (sizeof(palette) / sizeof(palette[0]))
static const char *const bar_colors[] = {"#4e79a7", "#e15759", "#f28e2b"};
static const char *const bar_names[] = {"any TEAE", "serious TEAE",
					"related TEAE"};

static const char style[] =
    "body{font-family:sans-serif;margin:1.5em;color:#111;background:#fff}"
    "h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}"
    ".closed{color:#a00;font-weight:bold}"
    "table{border-collapse:collapse;margin:.5em 0;font-size:.85em}"
    "th,td{border:1px solid #bbb;padding:2px 6px;text-align:left;"
    "vertical-align:top}"
    "th{background:#eee}td.n{text-align:right}"
    "p.note{color:#444;font-size:.85em;max-width:60em}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:2px 1em}"
    "dt{font-weight:bold}dd{margin:0}"
    "figure{display:inline-block;margin:0 2em 1em 0}"
    "figcaption{font-size:.9em;font-weight:bold}";

static void h(struct cb_out *o, const char *s)
{
	cb_out_html(o, s);
}

/* Cumulative randomized subjects by month, one line per site. */
static void chart_enrollment(const struct cb_safety *r, struct cb_out *o)
{
	const int W = 640, H = 300, L = 50, R = 130, T = 20, B = 50;
	const int pw = W - L - R, ph = H - T - B;
	long max = 1;
	size_t s, m;

	for (s = 0; s < r->nsites; s++)
		if (r->nmonths && r->sites[s].cum[r->nmonths - 1] > max)
			max = r->sites[s].cum[r->nmonths - 1];
	cb_out_printf(o,
		      "<figure id=\"chart-enrollment\"><figcaption>Cumulative "
		      "randomized subjects by site</figcaption>\n"
		      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		      "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
		      "aria-label=\"Cumulative randomized subjects by "
		      "site\">\n",
		      W, H, W, H);
	cb_out_printf(o,
		      "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
		      "fill=\"#fff\"/>\n"
		      "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
		      "stroke=\"#333\"/>"
		      "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
		      "stroke=\"#333\"/>\n",
		      W, H, L, T, L, T + ph, L, T + ph, L + pw, T + ph);
	cb_out_printf(o,
		      "<text x=\"%d\" y=\"%d\" font-size=\"11\" "
		      "text-anchor=\"end\">%ld</text>"
		      "<text x=\"%d\" y=\"%d\" font-size=\"11\" "
		      "text-anchor=\"end\">0</text>\n",
		      L - 4, T + 10, max, L - 4, T + ph);
	if (!r->nmonths) {
		cb_out_printf(o,
			      "<text x=\"%d\" y=\"%d\" font-size=\"13\">No "
			      "subject randomized yet</text>\n",
			      L + 20, T + ph / 2);
	} else {
		cb_out_printf(o, "<text x=\"%d\" y=\"%d\" font-size=\"11\">", L,
			      T + ph + 16);
		h(o, r->months[0]);
		cb_out_printf(o,
			      "</text><text x=\"%d\" y=\"%d\" font-size=\"11\" "
			      "text-anchor=\"end\">",
			      L + pw, T + ph + 16);
		h(o, r->months[r->nmonths - 1]);
		cb_out_puts(o, "</text>\n");
	}
	for (s = 0; s < r->nsites && r->nmonths; s++) {
		const char *col = palette[s % NPAL];

		cb_out_printf(o,
			      "<polyline fill=\"none\" stroke=\"%s\" "
			      "stroke-width=\"3\" points=\"",
			      col);
		for (m = 0; m < r->nmonths; m++) {
			double x =
			    L + (r->nmonths > 1 ? (double)pw * (double)m /
						      (double)(r->nmonths - 1)
						: pw / 2.0);
			double y = T + ph -
				   (double)ph * (double)r->sites[s].cum[m] /
				       (double)max;

			cb_out_printf(o, "%s%.1f,%.1f", m ? " " : "", x, y);
		}
		cb_out_puts(o, "\"/>\n");
		for (m = 0; m < r->nmonths; m++) {
			double x =
			    L + (r->nmonths > 1 ? (double)pw * (double)m /
						      (double)(r->nmonths - 1)
						: pw / 2.0);
			double y = T + ph -
				   (double)ph * (double)r->sites[s].cum[m] /
				       (double)max;

			cb_out_printf(o,
				      "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" "
				      "fill=\"%s\"/>",
				      x, y, col);
		}
		cb_out_printf(o,
			      "\n<rect x=\"%d\" y=\"%zu\" width=\"14\" "
			      "height=\"14\" fill=\"%s\"/>"
			      "<text x=\"%d\" y=\"%zu\" font-size=\"12\">",
			      L + pw + 14, (size_t)T + s * 20, col, L + pw + 34,
			      (size_t)T + s * 20 + 12);
		h(o, r->sites[s].label);
		cb_out_printf(o, " (%ld)</text>\n",
			      r->sites[s].cum[r->nmonths - 1]);
	}
	cb_out_puts(o, "</svg></figure>\n");
}

/* % of each column's safety population with any, serious and related
 * TEAEs: grouped bars, from the overview table. */
static void chart_incidence(const struct cb_safety *r, struct cb_out *o)
{
	const struct sr_table *t = cb_sr_table(r, "teae_overview");
	const int H = 300, L = 50, T = 20, B = 60, bw = 16, gap = 24;
	const int ph = H - T - B;
	size_t g, k, ng = r->ngroups;
	int W = L + (int)ng * (3 * bw + gap) + 150;

	cb_out_printf(o,
		      "<figure id=\"chart-incidence\"><figcaption>Subjects "
		      "with treatment-emergent AEs, %% of the safety "
		      "population, by %s</figcaption>\n"
		      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		      "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
		      "aria-label=\"TEAE incidence\">\n"
		      "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
		      "fill=\"#fff\"/>\n",
		      r->closed ? "arm" : "site", W, H, W, H, W, H);
	cb_out_printf(
	    o,
	    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
	    "stroke=\"#333\"/><line x1=\"%d\" y1=\"%d\" x2=\"%d\" "
	    "y2=\"%d\" stroke=\"#333\"/>\n"
	    "<text x=\"%d\" y=\"%d\" font-size=\"11\" "
	    "text-anchor=\"end\">100%%</text><text x=\"%d\" "
	    "y=\"%d\" font-size=\"11\" text-anchor=\"end\">0</text>\n",
	    L, T, L, T + ph, L, T + ph, W - 150, T + ph, L - 4, T + 10, L - 4,
	    T + ph);
	for (g = 0; t && g < ng; g++) {
		int x0 = L + gap / 2 + (int)g * (3 * bw + gap);

		for (k = 0; k < 3 && k < t->nrows; k++) {
			const struct sr_cell *c =
			    &t->cells[k * t->ncols + g + 1];
			double pct = cb_sr_pct(c);
			double hgt = pct > 0 ? ph * pct / 100.0 : 0;

			/* a sliver for zero, so a column is always seen */
			if (hgt < 1)
				hgt = 1;
			cb_out_printf(o,
				      "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" "
				      "height=\"%.1f\" fill=\"%s\" "
				      "shape-rendering=\"crispEdges\"><title>",
				      x0 + (int)k * bw, T + ph - hgt, bw, hgt,
				      bar_colors[k]);
			h(o, r->groups[g].label);
			cb_out_printf(o, ", %s: %ld of %ld</title></rect>\n",
				      bar_names[k], c->n, c->d);
		}
		cb_out_printf(o,
			      "<text x=\"%d\" y=\"%d\" font-size=\"11\" "
			      "text-anchor=\"middle\">",
			      x0 + 3 * bw / 2, T + ph + 16);
		h(o, r->groups[g].label);
		cb_out_printf(o,
			      "</text><text x=\"%d\" y=\"%d\" font-size=\"10\" "
			      "text-anchor=\"middle\">N=%ld</text>\n",
			      x0 + 3 * bw / 2, T + ph + 30, r->groups[g].N);
	}
	for (k = 0; k < 3; k++)
		cb_out_printf(o,
			      "<rect x=\"%d\" y=\"%zu\" width=\"14\" "
			      "height=\"14\" fill=\"%s\"/><text x=\"%d\" "
			      "y=\"%zu\" font-size=\"12\">%s</text>\n",
			      W - 140, (size_t)T + k * 20, bar_colors[k],
			      W - 120, (size_t)T + k * 20 + 12, bar_names[k]);
	cb_out_puts(o, "</svg></figure>\n");
}

static void html_table(struct cb_out *o, const struct sr_table *t, size_t n)
{
	char buf[64];
	size_t i, r;

	cb_out_printf(o, "<section id=\"t-");
	h(o, t->id);
	cb_out_printf(o, "\"><h2>%zu. ", n);
	h(o, t->title);
	cb_out_puts(o, "</h2>\n");
	if (t->note) {
		cb_out_puts(o, "<p class=\"note\">");
		h(o, t->note);
		cb_out_puts(o, "</p>\n");
	}
	if (!t->nrows) {
		cb_out_puts(o, "<p>(none)</p></section>\n");
		return;
	}
	cb_out_puts(o, "<table><thead><tr>");
	for (i = 0; i < t->ncols; i++) {
		cb_out_puts(o, "<th>");
		h(o, t->cols[i].head);
		cb_out_puts(o, "</th>");
	}
	cb_out_puts(o, "</tr></thead><tbody>\n");
	for (r = 0; r < t->nrows; r++) {
		const struct sr_cell *c = &t->cells[r * t->ncols];

		cb_out_puts(o, "<tr>");
		for (i = 0; i < t->ncols; i++) {
			cb_out_puts(o, t->cols[i].num ? "<td class=\"n\">"
						      : "<td>");
			h(o, cb_sr_cell_text(&c[i], buf, sizeof(buf)));
			cb_out_puts(o, "</td>");
		}
		cb_out_puts(o, "</tr>\n");
	}
	cb_out_puts(o, "</tbody></table></section>\n");
}

int cb_sr_html(const struct cb_safety *r, struct cb_out *o)
{
	size_t i;
	char buf[32];

	cb_out_puts(o, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
		       "<meta charset=\"utf-8\">\n"
		       "<meta http-equiv=\"Content-Security-Policy\" "
		       "content=\"default-src 'none'; style-src "
		       "'unsafe-inline'; img-src data:\">\n<title>");
	cb_out_puts(o, "Interim safety report, ");
	h(o, r->closed ? "closed" : "open");
	cb_out_puts(o, ": ");
	h(o, r->p->id);
	cb_out_puts(o, "</title>\n<style>");
	cb_out_puts(o, style);
	cb_out_puts(o, "</style></head><body>\n<h1>Interim safety report, ");
	h(o, cb_sr_kind(r));
	cb_out_puts(o, "</h1>\n");
	if (r->closed)
		cb_out_puts(o, "<p class=\"closed\">UNBLINDED: for the DSMB's "
			       "closed session only. Do not share.</p>\n");
	cb_out_puts(o, "<dl><dt>Study</dt><dd>");
	h(o, r->p->id);
	cb_out_puts(o, " (protocol ");
	h(o, r->p->version);
	cb_out_puts(o, ")</dd><dt>Data cut-off</dt><dd>");
	h(o, r->asof);
	cb_out_puts(o, r->cutoff_given ? " (events received by then)"
				       : " (every event received when the "
					 "report was made)");
	cb_out_puts(o, "</dd><dt>Sites</dt><dd>");
	h(o, r->site ? r->site : "all");
	cb_out_puts(o, "</dd><dt>Subjects</dt><dd>");
	snprintf(buf, sizeof(buf), "%zu", r->nsubjects);
	h(o, buf);
	cb_out_puts(o, "</dd><dt>Safety population</dt><dd>");
	snprintf(buf, sizeof(buf), "%zu", r->ndosed);
	h(o, buf);
	cb_out_puts(o, " dosed</dd><dt>Adverse events</dt><dd>");
	snprintf(buf, sizeof(buf), "%zu", r->naes);
	h(o, buf);
	cb_out_puts(o, "</dd><dt>Made by</dt><dd>");
	h(o, r->source);
	cb_out_puts(o, "</dd></dl>\n<section id=\"charts\">\n");
	chart_enrollment(r, o);
	chart_incidence(r, o);
	cb_out_puts(o, "</section>\n");
	for (i = 0; i < r->ntables; i++)
		html_table(o, &r->tables[i], i + 1);
	cb_out_puts(o, "</body></html>\n");
	return 0;
}
