#include <atomic>

#include <poplar/DebugContext.hpp>

namespace poplar {
namespace {
DebugId nextDebugId() {
  // Ids only need to be distinct within a process, as the SDK's are.
  static std::atomic<DebugId> next{1};
  return next++;
}
std::string join(const std::string &parent, const std::string &name) {
  if (parent.empty()) return name;
  if (name.empty()) return parent;
  return parent + "/" + name;
}
} // namespace

DebugNameAndId::DebugNameAndId(std::string name, DebugId debugId, std::string parentPath)
    : path_(join(parentPath, name)), id_(debugId) {}
DebugNameAndId::DebugNameAndId(const char *name) : path_(name ? name : ""), id_(0) {}
DebugNameAndId::DebugNameAndId(DebugId debugId) : id_(debugId) {}
DebugNameAndId::DebugNameAndId(const DebugInfo &debugInfo, std::string name)
    : path_(join(debugInfo.getPathName(), name)), id_(debugInfo.getId()) {}
DebugNameAndId::DebugNameAndId(const DebugNameAndId &other, StringRef name)
    : path_(join(other.path_, name.cloneAsString())), id_(other.id_) {}
std::string DebugNameAndId::getPathName() const { return path_; }

DebugContext::DebugContext(SourceLocation loc) : location_(loc) {}
DebugContext::DebugContext(const char *name, SourceLocation loc) : path_(name ? name : ""), location_(loc) {}
DebugContext::DebugContext(std::string name, SourceLocation loc) : path_(std::move(name)), location_(loc) {}
DebugContext::DebugContext(const DebugNameAndId &dn, StringRef name, SourceLocation loc)
    : path_(join(dn.getPathName(), name.cloneAsString())), id_(dn.getId()), location_(loc) {}
DebugContext::DebugContext(const DebugContext &other, StringRef name, SourceLocation loc)
    : path_(join(other.path_, name.cloneAsString())), id_(other.id_), location_(name.empty() ? other.location_ : loc) {}
DebugContext::DebugContext(const DebugInfo &info, StringRef name, SourceLocation loc)
    : path_(join(info.getPathName(), name.cloneAsString())), id_(info.getId()), location_(loc) {}
std::string DebugContext::getPathName() const { return path_; }

DebugInfo::DebugInfo(const DebugContext &debugContext, std::string layer)
    : path_(debugContext.getPathName()), id_(nextDebugId()) {
  (void)layer;
}
DebugInfo::~DebugInfo() = default;

} // namespace poplar
