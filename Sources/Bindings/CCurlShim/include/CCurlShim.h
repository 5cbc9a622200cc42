#ifndef FERRY_CCURLSHIM_H
#define FERRY_CCURLSHIM_H

// Typed, non-variadic wrappers around curl_easy_setopt and curl_easy_getinfo.
// Swift cannot call C variadic functions, so each argument type gets one function.

#include <curl/curl.h>

/// The signature shared by curl's write, header and read callbacks.
typedef size_t (*ferry_curl_data_callback)(char *buffer, size_t size, size_t count, void *userdata);

CURLcode ferry_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ferry_curl_setopt_off(CURL *handle, CURLoption option, curl_off_t value);
CURLcode ferry_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode ferry_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode ferry_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode ferry_curl_setopt_callback(CURL *handle, CURLoption option, ferry_curl_data_callback value);

CURLcode ferry_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode ferry_curl_getinfo_double(CURL *handle, CURLINFO info, double *value);

#endif
