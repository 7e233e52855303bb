import { scaleRobustSuite } from './scaleRobustSuite.js';

scaleRobustSuite('tiny');
