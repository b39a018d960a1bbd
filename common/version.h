/* version.h - the one place the Casebook version is written. */
#ifndef CB_VERSION_H
#define CB_VERSION_H
#define CB_VERSION "0.1.0"
#endif
