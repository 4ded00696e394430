#pragma once
// Names for graph elements and programs, as the SDK's poplar::DebugContext.
#include <cstdint>
#include <memory>
#include <string>

#include <poplar/StringRef.hpp>

namespace poplar {

typedef std::uint64_t DebugId;

class DebugContext;

class SourceLocation {
public:
  constexpr SourceLocation(const char *function, const char *file, unsigned line)
      : function_(function), file_(file), line_(line) {}
  static constexpr SourceLocation Current(const char *function = __builtin_FUNCTION(),
                                          const char *file = __builtin_FILE(), unsigned line = __builtin_LINE()) {
    return SourceLocation(function, file, line);
  }
  constexpr const char *getFunctionName() const { return function_; }
  constexpr const char *getFileName() const { return file_; }
  constexpr unsigned getLineNumber() const { return line_; }

private:
  friend class DebugContext; // its location before one is given
  constexpr SourceLocation() = default;
  const char *function_ = "";
  const char *file_ = "";
  unsigned line_ = 0;
};

class DebugInfo;

class DebugNameAndId {
public:
  DebugNameAndId(std::string name = "", DebugId debugId = 0, std::string parentPath = "");
  DebugNameAndId(const char *name);
  DebugNameAndId(DebugId debugId);
  DebugNameAndId(const DebugInfo &debugInfo, std::string name = "");
  DebugNameAndId(const DebugNameAndId &debugNameAndId, StringRef name = "");
  DebugNameAndId &operator=(const DebugNameAndId &) = default;
  std::string getPathName() const;

private:
  friend class DebugContext;
  DebugId getId() const { return id_; }
  std::string path_;
  DebugId id_ = 0;
};

class DebugContext {
public:
  DebugContext(SourceLocation loc = SourceLocation::Current());
  DebugContext(const char *name, SourceLocation loc = SourceLocation::Current());
  DebugContext(std::string name, SourceLocation loc = SourceLocation::Current());
  DebugContext(const DebugNameAndId &debugNameAndId, StringRef name = "",
               SourceLocation loc = SourceLocation::Current());
  DebugContext(const DebugContext &debugContext, StringRef name = "", SourceLocation loc = SourceLocation::Current());
  DebugContext(const DebugInfo &debugInfo, StringRef name = "", SourceLocation loc = SourceLocation::Current());
  DebugContext &operator=(const DebugContext &) = default;
  std::string getPathName() const;

private:
  std::string path_;
  DebugId id_ = 0;
  SourceLocation location_;
};

class DebugInfo {
public:
  DebugInfo(const DebugContext &debugContext, std::string layer);
  virtual ~DebugInfo();
  DebugInfo(const DebugInfo &) = delete;
  DebugInfo &operator=(const DebugInfo &) = delete;
  DebugId getId() const { return id_; }
  std::string getPathName() const { return path_; }

private:
  std::string path_;
  DebugId id_;
};

} // namespace poplar
