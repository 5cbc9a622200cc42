// PCRE2's functions are macros over their code-unit width: with 8 the names Swift sees are
// pcre2_compile_8, pcre2_match_8, … (function-like macros are not imported).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
