import { describeScimRepositoryContract } from './fixtures/scim-repository-contract.js';
import { MemoryScimRepository } from './fixtures/memory-scim-repository.js';

describeScimRepositoryContract('in-memory', async () => new MemoryScimRepository());
