/*
 * banned.h - functions Casebook code may not call (STYLE.md), made a
 * compile error rather than a line in a style guide: git's banned.h is
 * the model. The Makefile includes it ahead of every C file (-include),
 * so it first includes the system headers that declare these functions,
 * whose include guards then keep them from being read again after the
 * macros below exist.
 *
 * strcpy, strcat, sprintf and vsprintf write without a bound; gets reads
 * without one; atoi has no way to report a bad number; strtok keeps
 * hidden state. Use snprintf, memcpy with a checked length, cb_buf
 * (buf.h), strtol/strtoll with an end pointer.
 */
#ifndef CB_BANNED_H
#define CB_BANNED_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CB_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) CB_BANNED(strcpy)
#undef strcat
#define strcat(x, y) CB_BANNED(strcat)
#undef sprintf
#define sprintf(...) CB_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) CB_BANNED(vsprintf)
#undef gets
#define gets(x) CB_BANNED(gets)
#undef atoi
#define atoi(x) CB_BANNED(atoi)
#undef strtok
#define strtok(x, y) CB_BANNED(strtok)

#endif
