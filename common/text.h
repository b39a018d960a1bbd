/*
 * text.h - what people may type into the record, and how it is shown.
 *
 * Values, reasons and query texts are read back on other people's
 * terminals, in exports and in reports. A control character (ESC starts
 * a terminal escape sequence, a newline breaks a listing into a forged
 * row) or a bidirectional override (U+202E shows "exe.txt" as
 * "txt.exe") would let one person change what another sees. So new text
 * may hold none of them (cb_text_check, applied by the laptop when it
 * saves and by the server again when it receives), and whatever is
 * displayed anyway, from data older than the rule, goes through
 * cb_text_escape.
 *
 * Refused: the C0 controls U+0000-U+001F (tab and newline included),
 * DEL U+007F, the C1 controls U+0080-U+009F, the line and paragraph
 * separators U+2028 and U+2029, and the bidirectional marks, embeddings,
 * overrides and isolates U+061C, U+200E, U+200F, U+202A-U+202E and
 * U+2066-U+2069. Text must also be valid UTF-8.
 */
#ifndef CB_TEXT_H
#define CB_TEXT_H

#include <stddef.h>

#include "err.h"

/*
 * 0 when the `len` bytes at `s` are valid UTF-8 holding no refused
 * character; otherwise CB_EINVAL with a message "WHAT: contains ..."
 * naming the character and its position (counted in characters from 1).
 */
int cb_text_check(const char *s, size_t len, const char *what,
		  struct cb_err *err);

/*
 * 1 when `s` is empty or only white space (ASCII space, no-break space
 * U+00A0, the spaces U+2000-U+200B, U+202F, U+205F, U+3000 and U+FEFF),
 * so a reason that says nothing is told apart from one that does.
 */
int cb_text_blank(const char *s);

/*
 * `s` made safe to print: NULL when it holds no refused character (print
 * it as it is), else a malloc'd copy (the caller frees it) in which each
 * refused character is written as an escape: \n \r \t, \xNN for other
 * bytes below 0x80, \u{XXXX} for the others; invalid UTF-8 bytes as \xNN.
 * *oom is set (and NULL returned) when out of memory.
 */
char *cb_text_escape(const char *s, int *oom);

#endif
