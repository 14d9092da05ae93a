// Error texts that leave the server (job errors, 409 messages) without the
// machine's absolute paths: "/srv/cxr/store/models/v3.safetensors" becomes
// ".../v3.safetensors". The file name stays (it tells the user which file), the
// folders do not (they tell an attacker the layout of the machine). The full text
// still goes to the server's log where one is written.
#pragma once

#include <string>
#include <string_view>

namespace cxr::server {

// Every absolute path in `text` (a '/' at the start or after a space, a quote, '(',
// '=' or ':', up to the next space, quote, ',', ')' or a trailing ':' or '.'),
// replaced by ".../" and its last component.
std::string without_absolute_paths(std::string_view text);

}  // namespace cxr::server
