// The Forge API surface, part `storage`: key queries, custom entities,
// transactions and `kvs` (FORGE-API §3). Built when a script first reaches
// one of them; `storage`'s own methods are in part `api`.
//
// Everything done while building uses only what `shared` captured (see
// forge.js): the script may have replaced built-ins by then.
export default function forgeStorage(shared) {
  const { freeze, jsonText, part } = shared;
  const { kv, storable, basicStorage } = part('api');

  function keyOf(item) {
    return typeof item === 'object' && item !== null ? item.key : item;
  }

  const ttlOf = (options) => (options && options.ttl !== undefined ? options.ttl : undefined);

  function isCondition(value) {
    return typeof value === 'object' && value !== null && typeof value.condition === 'string';
  }

  function conditionRequest(value, what) {
    if (!isCondition(value)) throw new TypeError(`${what} takes a condition such as WhereConditions.equalsTo(value)`);
    return { condition: value.condition, values: Array.from(value.values || [], (v) => JSON.parse(jsonText(v, 'A condition value'))) };
  }

  function optionalText(value) {
    return value === undefined || value === null ? undefined : String(value);
  }

  // A query on one index of a custom entity; each call returns a new query.
  // Validation (index, partition, types) happens in Rust, when it runs.
  class EntityQuery {
    #state;
    constructor(state) {
      this.#state = freeze(state);
    }
    #with(change) {
      return new EntityQuery({ ...this.#state, ...change });
    }
    index(name, options) {
      const partition = options && options.partition !== undefined ? options.partition : undefined;
      if (partition !== undefined && !Array.isArray(partition)) {
        throw new TypeError('index(name, { partition }) takes an array of the partition attributes\' values');
      }
      return this.#with({ index: String(name), partition });
    }
    where(condition) {
      return this.#with({ where: conditionRequest(condition, 'where()') });
    }
    #filter(operator, attribute, condition) {
      const filters = this.#state.filters;
      if (filters && filters.operator !== operator) {
        throw new TypeError('a query uses andFilter or orFilter, not both');
      }
      const conditions = filters ? filters.conditions : [];
      const added = { attribute: String(attribute), ...conditionRequest(condition, `${operator}Filter()`) };
      return this.#with({ filters: { operator, conditions: [...conditions, added] } });
    }
    andFilter(attribute, condition) {
      return this.#filter('and', attribute, condition);
    }
    orFilter(attribute, condition) {
      return this.#filter('or', attribute, condition);
    }
    sort(order) {
      return this.#with({ sort: String(order) });
    }
    limit(n) {
      return this.#with({ limit: n });
    }
    cursor(c) {
      return this.#with({ cursor: optionalText(c) });
    }
    async getMany() {
      const page = await kv({ op: 'entityQuery', ...this.#state });
      const result = { results: page.results };
      if (page.nextCursor !== null) result.nextCursor = page.nextCursor;
      return result;
    }
    async getOne() {
      const page = await this.#with({ limit: 1 }).getMany();
      return page.results[0];
    }
  }

  function entity(name) {
    if (typeof name !== 'string') throw new TypeError(`entity(name) takes the entity's name, not ${typeof name}`);
    return freeze({
      async get(key) {
        const answer = await kv({ op: 'entityGet', entity: name, key });
        return answer.found ? answer.value : undefined;
      },
      async set(key, value) {
        await kv({ op: 'entitySet', entity: name, key, value: storable(key, value) });
      },
      async delete(key) {
        await kv({ op: 'entityDelete', entity: name, key });
      },
      query: () => new EntityQuery({ entity: name }),
    });
  }


  class Query {
    #prefix;
    #limit;
    #cursor;
    constructor(prefix, limit, cursor) {
      this.#prefix = prefix;
      this.#limit = limit;
      this.#cursor = cursor;
    }
    where(field, condition) {
      if (field !== 'key') throw new TypeError(`queries filter on 'key' only, not '${field}'`);
      if (
        typeof condition !== 'object' || condition === null ||
        (condition.condition !== 'STARTS_WITH' && condition.condition !== 'BEGINS_WITH')
      ) {
        throw new TypeError(
          'where() on keys takes startsWith(prefix) or WhereConditions.beginsWith(prefix); ' +
            'the other conditions are for custom entities: kvs.entity(name).query().index(…).where(…)',
        );
      }
      return new Query(condition.value, this.#limit, this.#cursor);
    }
    limit(n) {
      return new Query(this.#prefix, n, this.#cursor);
    }
    cursor(c) {
      return new Query(this.#prefix, this.#limit, c);
    }
    async getMany() {
      const page = await kv({
        op: 'query', prefix: this.#prefix, limit: this.#limit,
        cursor: this.#cursor === undefined || this.#cursor === null ? undefined : String(this.#cursor),
      });
      const result = { results: page.results };
      if (page.nextCursor !== null) result.nextCursor = page.nextCursor;
      return result;
    }
    async getOne() {
      const page = await new Query(this.#prefix, 1, this.#cursor).getMany();
      return page.results[0];
    }
  }

  function keyPolicy(options) {
    const policy = options && options.keyPolicy;
    if (policy === undefined || policy === 'OVERRIDE') return false;
    if (policy === 'FAIL_IF_EXISTS') return true;
    throw new TypeError(`Invalid keyPolicy "${policy}": use 'OVERRIDE' or 'FAIL_IF_EXISTS'`);
  }

  class Transaction {
    #ops = [];
    set(key, value, options) {
      this.#ops.push({
        type: 'set', key, value: storable(key, value), ttl: ttlOf(options), ifAbsent: keyPolicy(options),
      });
      return this;
    }
    delete(key) {
      this.#ops.push({ type: 'delete', key });
      return this;
    }
    check(key, condition) {
      if (typeof condition !== 'object' || condition === null) {
        throw new TypeError('check(key, condition) takes { exists: true | false } or { equals: value }');
      }
      const op = { type: 'check', key };
      if ('exists' in condition) op.exists = Boolean(condition.exists);
      if ('equals' in condition) op.equals = storable(key, condition.equals);
      this.#ops.push(op);
      return this;
    }
    async execute() {
      await kv({ op: 'transact', ops: this.#ops });
    }
  }

  const kvs = freeze({
    ...basicStorage,
    async set(key, value, options) {
      await kv({
        op: 'set', key, value: storable(key, value), ttl: ttlOf(options), ifAbsent: keyPolicy(options),
      });
    },
    async batchGet(items) {
      return kv({ op: 'batchGet', keys: Array.from(items, keyOf) });
    },
    async batchSet(items) {
      return kv({
        op: 'batchSet',
        items: Array.from(items, (item) => ({
          key: item.key, value: storable(item.key, item.value), ttl: ttlOf(item.options),
        })),
      });
    },
    async batchDelete(items) {
      return kv({ op: 'batchDelete', keys: Array.from(items, keyOf) });
    },
    transact: () => new Transaction(),
  });

  return {
    query: () => new Query('', undefined, undefined),
    entity,
    kvs,
  };
}
