#pragma once
// Control programs, as the SDK's poplar/Program.hpp. Programs have value semantics: a copy taken
// (by Sequence::add, a constructor or an Engine) does not see later additions to the original.
#include <initializer_list>
#include <map>
#include <memory>

#include <poplar/DataStream.hpp>
#include <poplar/DebugContext.hpp>
#include <poplar/GraphElements.hpp>
#include <poplar/SyncType.hpp>
#include <poplar/Tensor.hpp>

namespace poplar_emulator {
struct Access;
class ProgramNode;
} // namespace poplar_emulator

namespace poplar {
namespace program {

class Program {
public:
  Program();
  Program(const Program &other);
  Program(Program &&other) noexcept;
  Program &operator=(const Program &other);
  Program &operator=(Program &&other) noexcept;
  ~Program();
  bool isEmpty() const;

protected:
  friend struct poplar_emulator::Access;
  explicit Program(std::shared_ptr<poplar_emulator::ProgramNode> node);
  std::shared_ptr<poplar_emulator::ProgramNode> node_;
};

class Sequence : public Program {
public:
  Sequence(const DebugContext &debugContext = {});
  Sequence(std::initializer_list<Program> programs, const DebugContext &debugContext = {});
  void add(const Program &p);
};

class Repeat : public Program {
public:
  Repeat(unsigned count, const Program &prog, const DebugContext &debugContext = {});
};

// Runs cond, then body while the scalar predicate is false (true for RepeatWhileTrue).
class RepeatWhileFalse : public Program {
public:
  RepeatWhileFalse(const Program &cond, Tensor predicate, const Program &body,
                   const DebugContext &debugContext = {});
};

class RepeatWhileTrue : public Program {
public:
  RepeatWhileTrue(const Program &cond, Tensor predicate, const Program &body,
                  const DebugContext &debugContext = {});
};

class If : public Program {
public:
  If(Tensor predicate, const Program &trueBody, const Program &falseBody, const DebugContext &debugContext = {});
};

class Copy : public Program {
public:
  Copy(Tensor src, Tensor dst, bool dontOutline = false, const DebugContext &debugContext = {});
  Copy(const DataStream &stream, Tensor dst, bool optimiseMemory = false, const DebugContext &debugContext = {});
  Copy(Tensor src, const DataStream &stream, bool optimiseMemory = false, const DebugContext &debugContext = {});
  Copy(const RemoteBuffer &buffer, Tensor dst, const DebugContext &debugContext = {});
  Copy(const RemoteBuffer &buffer, Tensor dst, Tensor offset, const DebugContext &debugContext = {});
  Copy(Tensor src, const RemoteBuffer &buffer, const DebugContext &debugContext = {});
  Copy(Tensor src, const RemoteBuffer &buffer, Tensor offset, const DebugContext &debugContext = {});
};

// Copies src of replica i into dst of replica replicaMap[i].
class CrossReplicaCopy : public Program {
public:
  CrossReplicaCopy(Tensor src, Tensor dst, std::map<unsigned, unsigned> replicaMap,
                   const DebugContext &debugContext = {});
};

// Marks the tensor's contents undefined: its variables are dead until written again.
class WriteUndef : public Program {
public:
  WriteUndef(Tensor t, const DebugContext &debugContext = {});
};

class Sync : public Program {
public:
  Sync(SyncType type, const DebugContext &debugContext = {});
};

class Call : public Program {
public:
  Call(Function f, const DebugContext &debugContext = {});
};

// Stops the run with poplar::application_runtime_error (AbortOnCondition: when the scalar predicate is true).
class Abort : public Program {
public:
  Abort(const DebugContext &debugContext = {});
};

class AbortOnCondition : public Program {
public:
  AbortOnCondition(Tensor predicate, const DebugContext &debugContext = {});
};

} // namespace program
} // namespace poplar
