/** A parsed container image reference: registry/name:tag (Docker's rules for the registry part). */
export interface ImageRef {
  registry: string;
  name: string;
  tag: string;
}

const DEFAULT_REGISTRY = 'docker.io';

export function parseImageRef(ref: string): ImageRef {
  let rest = ref.trim();
  let registry = DEFAULT_REGISTRY;
  const slash = rest.indexOf('/');
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      registry = first;
      rest = rest.slice(slash + 1);
    }
  }
  let tag = 'latest';
  const at = rest.indexOf('@');
  if (at >= 0) {
    tag = rest.slice(at + 1);
    rest = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon > 0) {
      tag = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
    }
  }
  return { registry, name: rest, tag };
}

/** The reference Docker is asked for: registry prefix omitted for Docker Hub. */
export function formatImageRef(ref: ImageRef): string {
  const sep = ref.tag.includes(':') ? '@' : ':';
  const base = ref.registry === DEFAULT_REGISTRY ? ref.name : `${ref.registry}/${ref.name}`;
  return `${base}${sep}${ref.tag}`;
}

export function isValidImageRef(ref: string): boolean {
  return /^[a-z0-9]+([._:/@-][a-zA-Z0-9_.-]+)*$/.test(ref.trim()) && ref.length <= 512;
}
