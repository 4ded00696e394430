// Test fixtures run two at a time (CI has two cores); the tests of one fixture run one after another. A fixture that
// times child processes or builds in the repository is [NonParallelizable] and runs alone.
[assembly: Parallelizable(ParallelScope.Fixtures)]
[assembly: LevelOfParallelism(2)]
